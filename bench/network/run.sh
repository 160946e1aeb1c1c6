#!/usr/bin/env bash
# bench/network/run.sh: DPDK testpmd (virtio-user, txonly) -> our switch (2 vNICs, SG + conntrack +
# counters) -> testpmd (virtio-user, rxonly), 64 B and 1500 B frames; and in the same run the peer:
# testpmd txonly -> testpmd's own net_vhost backend (rxonly). Reports the receiver's packets/s.
# Usage: bench/network/run.sh [SECONDS]   (needs dpdk-testpmd: apt-get install dpdk-dev)
# Environment: SIZES="64 1500" (frame sizes), PIN=fair|none (see README.md "Cores"), QSIZE
# (virtqueue entries of the virtio-user ports, default 1024: see README.md "Cores"),
# JAVA_OPTS (extra JVM flags for the switch, e.g. a JFR recording), KEEP=1 keeps the logs,
# SWITCH_ROOT (a checkout whose built cli/target/qt jars the switch runs: compare two versions),
# PEER=0 (skip the peer runs).
#
# Cores (PIN=fair, the default, on a 2-core machine): the backend under test gets one core of
# its own in both runs. Ours: switch on CPU 1, transmitter and receiver testpmd on CPU 0. Peer:
# transmitter on CPU 0, receiver testpmd (whose net_vhost port is the backend) on CPU 1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
secs="${1:-10}"
sizes="${SIZES:-64 1500}"
pin="${PIN:-fair}"
java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
jars="${SWITCH_ROOT:-$root}"
[ -f "$jars/cli/target/qt/qingtian-cli.jar" ] || "$root/qt" --version >/dev/null
cp="$(ls "$jars"/cli/target/qt/lib/*.jar "$jars"/cli/target/qt/qingtian-cli.jar | tr '\n' ':')"
tmp="$(mktemp -d /tmp/qt-netbench.XXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "logs in $tmp" >&2 || rm -rf "$tmp"' EXIT
eal="--no-huge -m 512 --single-file-segments --no-pci"
qsize="${QSIZE:-1024}"
app="--total-num-mbufs=$((qsize * 4 + 8192)) --rxd=$qsize --txd=$qsize --stats-period 1"

# lcore maps (EAL --lcores LCORE@CPU): each testpmd has a main lcore 0 (sleeps, prints stats)
# and one forwarding lcore 1; both are put on the CPU the process may use.
case "$pin" in
  fair) ours_tx="0@0,1@0" ours_rx="0@0,1@0" peer_tx="0@0,1@0" peer_rx="0@1,1@1" switch_cpu=1 ;;
  none) ours_tx="0@0,1@0" ours_rx="0@1,1@1" peer_tx="0@0,1@0" peer_rx="0@1,1@1" switch_cpu="" ;;
  *) echo "PIN=fair|none" >&2; exit 2 ;;
esac

# pps of the receiver: the third best of its per-second "Throughput" lines.
rx_pps() { grep -o 'Rx-pps: *[0-9]*' "$1" | awk '{print $2}' | sort -n | tail -3 | head -1; }

run_pair() { # $1 label, $2 rx vdev, $3 tx vdev, $4 frame size, $5 rx lcores, $6 tx lcores
  local rxlog="$tmp/$1-$4-rx.log" txlog="$tmp/$1-$4-tx.log"
  timeout -s INT $((secs + 12)) dpdk-testpmd $eal --lcores "$5" --main-lcore 0 --file-prefix=qtrx$$ --vdev "$2" -- \
      --forward-mode=rxonly $app >"$rxlog" 2>&1 &
  sleep 3
  for i in $(seq 60); do grep -q "Checking link statuses" "$rxlog" && break; sleep 0.5; done
  case "$2" in net_vhost*) for i in $(seq 60); do [ -S "$tmp/peer.sock" ] && break; sleep 0.5; done ;; esac
  timeout -s INT "$((secs + 4))" dpdk-testpmd $eal --lcores "$6" --main-lcore 0 --file-prefix=qttx$$ --vdev "$3" -- \
      --forward-mode=txonly --txpkts="$4" --eth-peer=0,02:00:00:00:00:0b --tx-ip=10.0.1.2,10.0.1.3 $app \
      >"$txlog" 2>&1 || true
  wait %% 2>/dev/null || true
  local pps; pps="$(rx_pps "$rxlog")"; pps="${pps:-0}"
  local tpps; tpps="$(grep -o 'Tx-pps: *[0-9]*' "$txlog" | awk '{print $2}' | sort -n | tail -3 | head -1)"
  echo "$1 ${4}B rx_pps=$pps gbit_s=$(awk -v p="$pps" -v s="$4" 'BEGIN{printf "%.3f", p*s*8/1e9}') (generator tx_pps=${tpps:-0})"
  eval "pps_${1//-/_}_$4=$pps"
}

# The switch's CPU time per frame it switched (delivered or dropped) between two "cpu" lines.
cpu_per_frame() { # $1 first line number, $2 last line number of switch.log's cpu lines
  local a b; a="$(grep '^cpu ' "$tmp/switch.log" | sed -n "${1}p")"; b="$(grep '^cpu ' "$tmp/switch.log" | sed -n "${2}p")"
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," "); split(b,y," "); f=y[3]-x[3];
    if (f > 0) printf "switch worker cpu_ns_per_frame=%.0f (frames=%d delivered=%d dropped=%d cpu_s=%.2f)\n",
      (y[2]-x[2])/f, f, y[4]-x[4], y[5]-x[5], (y[2]-x[2])/1e9; else print "switch switched no frames"}'
}

launch=("$java")
[ -n "$switch_cpu" ] && launch=(taskset -c "$switch_cpu" "$java")
"${launch[@]}" -Dstats.ms=500 ${JAVA_OPTS:-} --enable-native-access=ALL-UNNAMED -cp "$cp" "$root/bench/network/ServeSwitch.java" "$tmp" \
    >"$tmp/switch.log" 2>&1 &
for i in $(seq 60); do grep -q serving "$tmp/switch.log" && break; sleep 0.5; done
# testpmd's --txpkts is the frame length without CRC: 64 and 1500.
for size in $sizes; do
  c0="$(grep -c '^cpu ' "$tmp/switch.log" || true)"
  run_pair qingtian "net_virtio_user1,path=$tmp/b.sock,mac=02:00:00:00:00:0b,queue_size=$qsize" \
      "net_virtio_user0,path=$tmp/a.sock,mac=02:00:00:00:00:0a,queue_size=$qsize" "$size" "$ours_rx" "$ours_tx"
  cpu_per_frame "$((c0 > 0 ? c0 : 1))" "$(grep -c '^cpu ' "$tmp/switch.log")"
  [ "${PEER:-1}" = 0 ] && continue
  run_pair testpmd-vhost "net_vhost0,iface=$tmp/peer.sock" \
      "net_virtio_user0,path=$tmp/peer.sock,mac=02:00:00:00:00:0a,queue_size=$qsize" "$size" "$peer_rx" "$peer_tx"
  eval "o=\$pps_qingtian_$size p=\$pps_testpmd_vhost_$size"
  echo "ratio ${size}B $(awk -v o="$o" -v p="$p" 'BEGIN{printf "%.3f", (p > 0) ? o / p : 0}')"
done
kill %1 2>/dev/null || true; sleep 2
grep -E '^(a|b): ' "$tmp/switch.log" | tail -2 >&2 || true
