#!/usr/bin/env bash
# Storage benchmark: our VhostUserBlkServer vs qemu-storage-daemon's vhost-user-blk export,
# same raw file, same harness (bench/storage/StorageBench.java plays the guest driver:
# shared memfd memory, split rings, eventfds). Both back-ends run in their own process.
# Rounds alternate the two back-ends; the table shows per-workload medians over the rounds.
# Usage: bench/storage/run.sh [SECONDS_PER_WORKLOAD] [DISK_MIB] [ROUNDS]   (ONLY=substring filters workloads)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER=${1:-5}
DISK_MIB=${2:-256}
ROUNDS=${3:-3}
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
./mvnw -q -B -pl vhost-user -am package -DskipTests
CP=native/target/classes:virtio/target/classes:vhost-user/target/classes
WORK=$(mktemp -d /tmp/qt-storage-bench.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
DISK=$WORK/disk.img
head -c $((DISK_MIB << 20)) /dev/urandom > "$DISK"
wait_sock() { for _ in $(seq 400); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "no socket $1" >&2; exit 1; }
drive() { QT_BENCH_SERVER_PID=$SERVER_PID "$JAVA" --enable-native-access=ALL-UNNAMED -cp "$CP" bench/storage/StorageBench.java "$1" "$2" "$SECONDS_PER" ${ONLY:-} | tee -a "$WORK/$2.txt"; }

for round in $(seq "$ROUNDS"); do
  # Our back-end, in its own JVM like the card.
  rm -f "$WORK/qt.sock"
  "$JAVA" --enable-native-access=ALL-UNNAMED ${QT_SERVER_OPTS:-} -cp "$CP" bench/storage/ServeFile.java "$DISK" "$WORK/qt.sock" 1 2>"$WORK/qt.log" &
  SERVER_PID=$!
  wait_sock "$WORK/qt.sock"
  drive "$WORK/qt.sock" qt
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

  # The reference: qemu-storage-daemon (ENVIRONMENT.md command), page cache like ours.
  rm -f "$WORK/qsd.sock"
  qemu-storage-daemon --blockdev driver=file,node-name=f0,filename="$DISK" --blockdev driver=raw,node-name=d0,file=f0 \
    --export type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path="$WORK/qsd.sock",writable=on,num-queues=1 \
    2>"$WORK/qsd.log" &
  SERVER_PID=$!
  wait_sock "$WORK/qsd.sock"
  drive "$WORK/qsd.sock" qsd
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
done

# Median of each column per workload.
medians() {
  awk '{ for (c = 3; c <= 7; c++) v[$2, c, ++n[$2, c]] = $c; w[$2] = 1 }
       END { for (k in w) { printf "%s", k
               for (c = 3; c <= 7; c++) { m = n[k, c]; for (i = 1; i <= m; i++) a[i] = v[k, c, i]
                 for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                 printf " %s", a[int((m + 1) / 2)] }
               print "" } }' "$1" | sort
}
echo
echo "medians of $ROUNDS rounds, ${SECONDS_PER}s per workload, ${DISK_MIB} MiB file; ratio = qt IOPS / qsd IOPS;"
echo "cpuus = back-end CPU µs per request; cpu-r = qsd cpuus / qt cpuus (>1: ours is cheaper)"
printf "%-18s %8s %8s %8s %8s %8s | %8s %8s %8s %8s %8s | %6s %6s\n" workload qt-IOPS qt-MB/s p50us p99us cpuus qsd-IOPS qsd-MB/s p50us p99us cpuus ratio cpu-r
join -j 1 <(medians "$WORK/qt.txt") <(medians "$WORK/qsd.txt") |
  awk '{printf "%-18s %8s %8s %8s %8s %8s | %8s %8s %8s %8s %8s | %6.2f %6.2f\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11, $2/$7, ($6 > 0 ? $11/$6 : 0)}'
