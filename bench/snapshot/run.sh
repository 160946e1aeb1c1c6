#!/usr/bin/env bash
# Snapshot/restore and API benchmarks (issue 8). Usage:
#   bench/snapshot/run.sh host   # this host's /dev/kvm, a tiny counting guest: API latency, snapshot, restore
#        env: REPEAT=N restores of each snapshot (default 1), each in a new process;
#             FILL_MIB=N random MiB written into the memory file at 64 MiB (the guest never looks
#             there) so a copy restore (QT_RESTORE_MEMORY=copy, what VMs with vhost-user
#             devices do) has data to copy; sizes default to "256 1024" (SIZES="...").
#   bench/snapshot/run.sh lab    # the nested lab: stock kernel guests of 256 MiB and 1 GiB that filled
#                                # part of their RAM with random data; snapshot and restore-to-running
# The hypervisor reports its own timings on stderr ("qt: snapshot created in ...", "qt: snapshot
# loaded in ..."): restore-to-running is from the load request's arrival to the vCPUs running.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=${1:-host}
OUT=$(mktemp -d /tmp/qt-snapbench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

if [ "$MODE" = host ]; then
  python3 - "$OUT/counter-bzImage" <<'PY'
import struct, sys
code = bytes([0x66,0xba,0xf8,0x03,0xb0,ord('O'),0xee,0xb0,ord('K'),0xee,0xb0,0x0a,0xee,
              0xff,0x04,0x25,0x00,0x00,0x30,0x00,0xeb,0xf7])
b = bytearray(5*512 + 0x200 + len(code))
b[0x1f1] = 4; struct.pack_into('<H', b, 0x1fe, 0xaa55); b[0x201] = 0x6a; struct.pack_into('<I', b, 0x202, 0x53726448)
struct.pack_into('<H', b, 0x206, 0x020f); b[0x211] = 1; struct.pack_into('<I', b, 0x22c, 0x7fffffff)
struct.pack_into('<I', b, 0x230, 0x200000); b[0x234] = 1; struct.pack_into('<H', b, 0x236, 3)
struct.pack_into('<I', b, 0x238, 2047); struct.pack_into('<Q', b, 0x258, 0x1000000); struct.pack_into('<I', b, 0x260, 0x10000)
b[5*512+0x200:] = code
open(sys.argv[1], 'wb').write(b)
PY
  ./qt --help > /dev/null # build if stale
  api() { ./qt hypervisor api "$@"; }
  wait_api() { for _ in $(seq 1 300); do api "$1" GET / > /dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
  for MEM in ${SIZES:-256 1024}; do
    A=$OUT/a.sock; B=$OUT/b.sock
    ./qt hypervisor run --api-sock "$A" > "$OUT/a.out" 2> "$OUT/a.err" & PA=$!
    wait_api "$A"
    echo "== ${MEM} MiB guest, host KVM"
    api "$A" GET / --repeat 2000 > /dev/null 2> "$OUT/lat"; echo "GET / latency: $(cat "$OUT/lat")"
    api "$A" PUT /machine-config "{\"vcpu_count\":1,\"mem_size_mib\":$MEM}"
    api "$A" PUT /boot-source "{\"kernel_image_path\":\"$OUT/counter-bzImage\"}"
    api "$A" PUT /actions '{"action_type":"InstanceStart"}'
    sleep 0.5
    api "$A" PATCH /vm '{"state":"Paused"}' --repeat 200 2> "$OUT/lat"; echo "PATCH /vm Paused latency: $(cat "$OUT/lat")"
    api "$A" PATCH /vm '{"state":"Resumed"}'
    sleep 0.2
    api "$A" PATCH /vm '{"state":"Paused"}'
    api "$A" PUT /snapshot/create "{\"snapshot_path\":\"$OUT/s.snap\",\"mem_file_path\":\"$OUT/s.mem\"}"
    kill $PA; wait $PA || true
    grep 'snapshot created' "$OUT/a.err"
    if [ "${FILL_MIB:-0}" -gt 0 ]; then
      dd if=/dev/urandom of="$OUT/s.mem" bs=1M seek=64 count="$FILL_MIB" conv=notrunc status=none
    fi
    echo "state file $(stat -c %s "$OUT/s.snap") bytes; memory file $(stat -c %s "$OUT/s.mem") bytes, $(du -k "$OUT/s.mem" | cut -f1) KiB on disk"
    for _ in $(seq 1 "${REPEAT:-1}"); do
      QT_RESTORE_MEMORY=${QT_RESTORE_MEMORY:-map} ./qt hypervisor run --api-sock "$B" > "$OUT/b.out" 2> "$OUT/b.err" & PB=$!
      wait_api "$B"; sleep 1 # let the prewarm finish
      api "$B" PUT /snapshot/load "{\"snapshot_path\":\"$OUT/s.snap\",\"mem_file_path\":\"$OUT/s.mem\",\"resume_vm\":true}"
      api "$B" GET / > /dev/null
      kill $PB; wait $PB || true
      grep 'snapshot loaded\|qt: build' "$OUT/b.err" | tail -8
    done
    rm -f "$OUT/s.snap" "$OUT/s.mem"
  done
  exit 0
fi

# ---- lab: stock kernel + busybox init that fills FILL MiB of tmpfs with random data, then counts ----
[ "$MODE" = lab ] || { echo "usage: $0 host|lab" >&2; exit 2; }
. bench/lib/lab.sh
lab_counting_initramfs "$OUT/l2.cpio"
{ lab_l1_functions; cat; } > "$OUT/script.sh" <<'SCRIPT'
for M in "256 64" "1024 64"; do
  set -- $M; MEM=$1; FILL=$2
  rm -f /tmp/*.sock /tmp/s.snap /tmp/s.mem
  qt hypervisor run --api-sock /tmp/a.sock --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory ${MEM}M \
      --cmdline "console=ttyS0 reboot=k panic=1 quiet qt.fill=$FILL" > /tmp/a.out 2> /tmp/a.err &
  PA=$!
  waitfor '^count 2$' /tmp/a.out 900
  echo "== lab, ${MEM} MiB guest, ${FILL} MiB of random data in tmpfs"
  qt hypervisor api /tmp/a.sock GET / --repeat 500 > /dev/null
  qt hypervisor api /tmp/a.sock PATCH /vm '{"state":"Paused"}'
  qt hypervisor api /tmp/a.sock PUT /snapshot/create '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem"}'
  kill $PA; wait $PA
  grep 'snapshot created' /tmp/a.err
  qt hypervisor run --api-sock /tmp/b.sock > /tmp/b.out 2> /tmp/b.err &
  PB=$!
  waitapi /tmp/b.sock
  sleep 3 # prewarm
  qt hypervisor api /tmp/b.sock PUT /snapshot/load '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem","resume_vm":true}'
  LAST=$(grep -c '^count ' /tmp/a.out)
  waitfor "^count $((LAST+2))$" /tmp/b.out 120
  echo "continued: $(head -1 /tmp/b.out) after $(tail -1 /tmp/a.out)"
  kill $PB; wait $PB
  grep 'snapshot loaded' /tmp/b.err
done
SCRIPT
./qt lab run --memory 3G --timeout 1500 --file "$OUT/l2.cpio:/tmp/l2.cpio" --file "$OUT/script.sh:/tmp/script.sh" -- sh /tmp/script.sh
