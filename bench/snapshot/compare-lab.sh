#!/usr/bin/env bash
# Restore-to-running, snapshot size and time: our hypervisor and QEMU 7.2, in ONE lab boot (same L1,
# same stock kernel, same busybox init that puts FILL MiB of random data in tmpfs and then counts),
# for 256 MiB and 1 GiB guests. Usage: bench/snapshot/compare-lab.sh [FILL_MIB]   (default 64)
#
# What is timed (both VMMs are already started and waiting when the restore request comes, as a
# Firecracker process waits for its load request):
#   ours: "qt: snapshot loaded in X ms" on the hypervisor's stderr (with the time of every phase): from the PUT /snapshot/load
#         request's arrival to the vCPUs running (memory file mapped MAP_PRIVATE, not read).
#   QEMU: from the monitor's 'migrate_incoming "exec:cat FILE"' to 'info status' saying running
#         (the L1 clock is /proc/uptime: 10 ms resolution; the status is polled every 20 ms).
# Save: ours "snapshot created in X ms" (VM paused by PATCH /vm first); QEMU: migrate of the
# running VM to "exec:cat > FILE" until 'Migration status: completed' (QEMU stops the VM at the
# end; the stream records it as running, so the destination starts it by itself).
set -euo pipefail
cd "$(dirname "$0")/../.."
FILL=${1:-64}
. bench/lib/lab.sh
OUT=$(mktemp -d /tmp/qt-snapcmp.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
lab_qemu_bundle "$OUT/qemu"
lab_counting_initramfs "$OUT/l2.cpio"
{ lab_l1_functions; sed "s/@FILL@/$FILL/"; } > "$OUT/script.sh" <<'SCRIPT'
FILL=@FILL@
for MEM in 256 1024; do
  APPEND="console=ttyS0 reboot=k panic=1 quiet qt.fill=$FILL"
  # ---- ours ----
  rm -f /tmp/*.sock /tmp/s.snap /tmp/s.mem
  qt hypervisor run --api-sock /tmp/a.sock --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory ${MEM}M \
      --cmdline "$APPEND" > /tmp/a.out 2> /tmp/a.err &
  PA=$!
  waitfor '^count 2' /tmp/a.out 1200
  echo "== ours, ${MEM} MiB guest, ${FILL} MiB of random data in tmpfs"
  qt hypervisor api /tmp/a.sock PATCH /vm '{"state":"Paused"}'
  qt hypervisor api /tmp/a.sock PUT /snapshot/create '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem"}'
  kill $PA; wait $PA
  grep 'snapshot created' /tmp/a.err
  echo "ours: state file $(stat -c %s /tmp/s.snap) bytes, memory file $(stat -c %s /tmp/s.mem) bytes, $(du -k /tmp/s.mem | cut -f1) KiB on disk"
  qt hypervisor run --api-sock /tmp/b.sock > /tmp/b.out 2> /tmp/b.err &
  PB=$!
  waitapi /tmp/b.sock
  sleep 3 # prewarm
  qt hypervisor api /tmp/b.sock PUT /snapshot/load '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem","resume_vm":true}'
  LAST=$(grep -c '^count ' /tmp/a.out)
  waitfor "^count $((LAST+2))" /tmp/b.out 120
  echo "ours continued: $(head -1 /tmp/b.out) after $(tail -1 /tmp/a.out)"
  kill $PB; wait $PB
  grep 'snapshot loaded' /tmp/b.err
  rm -f /tmp/s.snap /tmp/s.mem
  # ---- QEMU ----
  rm -f /tmp/mon* /tmp/q.mig /tmp/q.out /tmp/r.out
  COMMON="-M microvm,rtc=on -enable-kvm -cpu host -smp 1 -m ${MEM}M -nodefaults -no-user-config -nographic -display none"
  mkfifo /tmp/monin
  qemu $COMMON -kernel "$QT_GUEST_KERNEL" -initrd /tmp/l2.cpio -append "$APPEND" -serial file:/tmp/q.out -monitor stdio \
      < /tmp/monin > /tmp/mon.out 2>&1 &
  PQ=$!
  exec 3> /tmp/monin
  waitfor '^count 2' /tmp/q.out 1200
  echo "== QEMU, ${MEM} MiB guest, ${FILL} MiB of random data in tmpfs"
  T0=$(ms); echo 'migrate "exec:cat > /tmp/q.mig"' >&3
  n=0; until grep -q 'Migration status: completed' /tmp/mon.out; do echo "info migrate" >&3; sleep 0.1; n=$((n+1)); [ $n -gt 3000 ] && break; done
  T1=$(ms); echo "QEMU save (migrate to file): $((T1-T0)) ms, file $(stat -c %s /tmp/q.mig) bytes"
  echo "quit" >&3; exec 3>&-; wait $PQ || true
  rm -f /tmp/monin; mkfifo /tmp/monin
  qemu $COMMON -kernel "$QT_GUEST_KERNEL" -initrd /tmp/l2.cpio -append "$APPEND" -serial file:/tmp/r.out -monitor stdio \
      -incoming defer < /tmp/monin > /tmp/mon.out 2>&1 &
  PQ=$!
  exec 3> /tmp/monin
  sleep 3
  T0=$(ms); echo 'migrate_incoming "exec:cat /tmp/q.mig"' >&3
  n=0; until grep -q 'VM status: running' /tmp/mon.out; do echo "info status" >&3; sleep 0.02; n=$((n+1)); [ $n -gt 6000 ] && break; done
  T1=$(ms); echo "QEMU restore-to-running (migrate_incoming to running): $((T1-T0)) ms"
  grep -i -m3 'error\|fail' /tmp/mon.out || true
  sleep 3; echo "QEMU continued: $(head -1 /tmp/r.out)"
  echo "quit" >&3; exec 3>&-; wait $PQ || true
  rm -f /tmp/q.mig
done
echo "compare done"
SCRIPT
./qt lab run --memory 3G --timeout 2400 --file "$OUT/qemu:/tmp/qemu" --file "$OUT/l2.cpio:/tmp/l2.cpio" --file "$OUT/script.sh:/tmp/script.sh" -- sh /tmp/script.sh
