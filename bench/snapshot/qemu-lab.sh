#!/usr/bin/env bash
# The peer for restore-to-running: QEMU 7.2 as the L2 VMM inside the lab, same stock kernel and
# init as run.sh lab, migrate to file ("exec:cat > FILE") and restore with
#   -incoming defer ... then (monitor) migrate_incoming "exec:cat FILE"
# timed from the migrate_incoming command to "VM status: running" (QEMU already started and
# waiting, as our hypervisor is when its load request comes). QEMU is not in L1 by default:
# the binary, its shared libraries (ldd) and firmware are copied in with --file.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib/lab.sh
OUT=$(mktemp -d /tmp/qt-qemubench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
lab_qemu_bundle "$OUT/qemu"
lab_counting_initramfs "$OUT/l2.cpio" # the same guest as run.sh lab
{ lab_l1_functions; cat; } > "$OUT/script.sh" <<'SCRIPT'
for M in "256 16" "1024 16"; do
  set -- $M; MEM=$1; FILL=$2
  rm -f /tmp/mon* /tmp/q.mig /tmp/q.out /tmp/r.out
  COMMON="-M microvm,rtc=on -enable-kvm -cpu host -smp 1 -m ${MEM}M -nodefaults -no-user-config -nographic -display none"
  mkfifo /tmp/monin
  qemu $COMMON -kernel "$QT_GUEST_KERNEL" -initrd /tmp/l2.cpio \
      -append "console=ttyS0 reboot=k panic=1 quiet qt.fill=$FILL" -serial file:/tmp/q.out -monitor stdio \
      < /tmp/monin > /tmp/mon.out 2>&1 &
  PQ=$!
  exec 3> /tmp/monin
  waitfor '^count 2' /tmp/q.out 900
  echo "== QEMU in the lab, ${MEM} MiB guest, ${FILL} MiB random data"
  T0=$(ms); echo 'migrate "exec:cat > /tmp/q.mig"' >&3 # live: the stream records "running", so the destination starts by itself
  n=0; until grep -q 'Migration status: completed' /tmp/mon.out; do echo "info migrate" >&3; sleep 0.1; n=$((n+1)); [ $n -gt 3000 ] && break; done
  T1=$(ms); echo "QEMU save (stop + migrate to file): $((T1-T0)) ms, file $(stat -c %s /tmp/q.mig) bytes"
  echo "quit" >&3; exec 3>&-; wait $PQ || true
  rm -f /tmp/monin; mkfifo /tmp/monin
  qemu $COMMON -kernel "$QT_GUEST_KERNEL" -initrd /tmp/l2.cpio \
      -append "console=ttyS0 reboot=k panic=1 quiet qt.fill=$FILL" -serial file:/tmp/r.out -monitor stdio -incoming defer \
      < /tmp/monin > /tmp/mon.out 2>&1 &
  PQ=$!
  exec 3> /tmp/monin
  sleep 3
  T0=$(ms); echo 'migrate_incoming "exec:cat /tmp/q.mig"' >&3
  n=0; until grep -q 'VM status: running' /tmp/mon.out; do echo "info status" >&3; sleep 0.02; n=$((n+1)); [ $n -gt 3000 ] && break; done
  T1=$(ms); echo "QEMU restore-to-running (migrate_incoming to running): $((T1-T0)) ms"; grep -i -m3 'error\|fail' /tmp/mon.out
  sleep 3; echo "continued: $(head -1 /tmp/r.out)"
  echo "quit" >&3; exec 3>&-; wait $PQ || true
done
SCRIPT
./qt lab run --memory 3G --timeout 1500 --file "$OUT/qemu:/tmp/qemu" --file "$OUT/l2.cpio:/tmp/l2.cpio" --file "$OUT/script.sh:/tmp/script.sh" -- sh /tmp/script.sh
