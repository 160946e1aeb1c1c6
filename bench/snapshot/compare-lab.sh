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
OUT=$(mktemp -d /tmp/qt-snapcmp.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
Q=$OUT/q; mkdir -p "$Q/bin" "$Q/lib" "$Q/share"
cp /usr/bin/qemu-system-x86_64 "$Q/bin/"
for l in $(ldd /usr/bin/qemu-system-x86_64 | awk '{ if ($3 ~ /^\//) print $3; else if ($1 ~ /^\//) print $1 }'); do
  cp -L "$l" "$Q/lib/"
done
cp /usr/share/qemu/bios-microvm.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin "$Q/share/" 2>/dev/null || true
cp /usr/share/seabios/bios-microvm.bin "$Q/share/" 2>/dev/null || true
ROOT=$OUT/root; mkdir -p "$ROOT/bin" "$ROOT/proc" "$ROOT/mnt" "$ROOT/dev"
cp /bin/busybox "$ROOT/bin/busybox"
for a in sh mount cat echo sleep dd seq head sed; do ln -s busybox "$ROOT/bin/$a"; done
cat > "$ROOT/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs -o size=90% tmpfs /mnt
FILL=$(sed -n 's/.*qt.fill=\([0-9]*\).*/\1/p' /proc/cmdline 2>/dev/null || echo 0)
# random bytes are slow to make under nested TCG (~0.3 MB/s): 1 MiB of them, repeated FILL times
if [ -n "$FILL" ] && [ "$FILL" -gt 0 ]; then
  dd if=/dev/urandom of=/mnt/seed bs=1M count=1 2>/dev/null
  n=0; while [ $n -lt $FILL ]; do cat /mnt/seed >> /mnt/fill; n=$((n+1)); done
fi
echo filled
i=0; while true; do i=$((i+1)); echo "count $i"; sleep 1; done
INIT
chmod 755 "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet) > "$OUT/l2.cpio"
sed "s/@FILL@/$FILL/" > "$OUT/script.sh" <<'SCRIPT'
FILL=@FILL@
Q=/tmp/q
qemu() { "$Q/lib/ld-linux-x86-64.so.2" --library-path "$Q/lib" "$Q/bin/qemu-system-x86_64" -L "$Q/share" "$@"; }
ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
waitfor() { n=0; until grep -q "$1" "$2" 2>/dev/null; do sleep 0.5; n=$((n+1)); [ $n -gt $3 ] && echo "timeout waiting for $1 in $2" && return 1; done; return 0; }
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
  n=0; until qt hypervisor api /tmp/b.sock GET / > /dev/null 2>&1; do sleep 0.3; n=$((n+1)); [ $n -gt 100 ] && break; done
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
./qt lab run --memory 3G --timeout 2400 --file "$Q:/tmp/q" --file "$OUT/l2.cpio:/tmp/l2.cpio" --file "$OUT/script.sh:/tmp/script.sh" -- sh /tmp/script.sh
