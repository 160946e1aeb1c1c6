#!/usr/bin/env bash
# The peer for restore-to-running: QEMU 7.2 as the L2 VMM inside the lab, same stock kernel and
# init as run.sh lab, migrate to file ("exec:cat > FILE") and restore with
#   -incoming defer ... then (monitor) migrate_incoming "exec:cat FILE"
# timed from the migrate_incoming command to "VM status: running" (QEMU already started and
# waiting, as our hypervisor is when its load request comes). QEMU is not in L1 by default:
# the binary, its shared libraries (ldd) and firmware are copied in with --file.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d /tmp/qt-qemubench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
Q=$OUT/q; mkdir -p "$Q/bin" "$Q/lib" "$Q/share"
cp /usr/bin/qemu-system-x86_64 "$Q/bin/"
for l in $(ldd /usr/bin/qemu-system-x86_64 | awk '{ if ($3 ~ /^\//) print $3; else if ($1 ~ /^\//) print $1 }'); do
  cp -L "$l" "$Q/lib/"
done
cp /usr/share/qemu/bios-microvm.bin /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin "$Q/share/" 2>/dev/null || true
cp /usr/share/seabios/bios-microvm.bin "$Q/share/" 2>/dev/null || true
# the same guest as run.sh lab
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
cat > "$OUT/script.sh" <<'SCRIPT'
Q=/tmp/q
qemu() { "$Q/lib/ld-linux-x86-64.so.2" --library-path "$Q/lib" "$Q/bin/qemu-system-x86_64" -L "$Q/share" "$@"; }
ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; } # busybox date has no %N: 10 ms resolution
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
  n=0; until grep -q '^count 2' /tmp/q.out 2>/dev/null; do sleep 0.5; n=$((n+1)); [ $n -gt 900 ] && break; done
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
./qt lab run --memory 3G --timeout 1500 --file "$Q:/tmp/q" --file "$OUT/l2.cpio:/tmp/l2.cpio" --file "$OUT/script.sh:/tmp/script.sh" -- sh /tmp/script.sh
