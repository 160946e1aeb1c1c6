# bench/lib/lab.sh: the scaffolding the nested-lab benchmarks share. Sourced on the host by
#   bench/snapshot/{run,compare-lab,qemu-lab}.sh, bench/pci/run.sh, bench/hypervisor/boot-lab.sh,
#   bench/lab/triple-fault.sh
# (after `set -euo pipefail`); it defines functions only.
#
# Host side:
#   lab_qemu_bundle DIR          QEMU for L1, which has none: DIR/qemu-system-x86_64, DIR/lib/ (every
#                                library it links, the dynamic loader among them: L1's own libc is
#                                the JDK's, not QEMU's), DIR/fw/ (firmware of microvm and q35).
#                                Ship it with `--file DIR:/tmp/qemu`; in L1 run it with `qemu` below.
#   lab_busybox_root DIR APPLET...  a root for an L2 initramfs: busybox, a link per applet, the usual
#                                mount points.
#   lab_cpio DIR OUT             the newc cpio of DIR (an initramfs).
#   lab_counting_initramfs OUT   the snapshot benchmarks' L2 guest: busybox init that fills
#                                `qt.fill=N` MiB of tmpfs with random data, prints "filled", then
#                                "count I" every second.
#   lab_l1_functions             prints the shell functions below, for the top of an L1 script.
#
# L1 side (lab_l1_functions):
#   qemu ARGS...                 the bundle at /tmp/qemu, through its own loader and libraries
#   waitsock PATH                waits up to 60 s for a unix socket (1 and a line if it never comes)
#   waitfor REGEX FILE N         waits up to N half-seconds for a line matching REGEX in FILE
#   waitapi SOCKET               waits up to 30 s for a hypervisor's API socket to answer GET /
#   ms                           L1's uptime in ms (busybox date has no %N: 10 ms resolution)

lab_qemu_bundle() {
  local dir=$1 l f d
  mkdir -p "$dir/lib" "$dir/fw"
  cp -L /usr/bin/qemu-system-x86_64 "$dir/"
  for l in $(ldd /usr/bin/qemu-system-x86_64 | grep -o '/[^ ]*'); do cp -L "$l" "$dir/lib/"; done
  for f in bios-256k.bin bios-microvm.bin linuxboot_dma.bin linuxboot.bin kvmvapic.bin; do
    for d in /usr/share/qemu /usr/share/seabios; do
      if [ -f "$d/$f" ]; then cp -L "$d/$f" "$dir/fw/"; break; fi
    done
  done
}

lab_busybox_root() {
  local dir=$1 a; shift
  mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/mnt"
  cp /bin/busybox "$dir/bin/busybox"
  for a in "$@"; do ln -sf busybox "$dir/bin/$a"; done
}

lab_cpio() {
  (cd "$1" && find . | cpio -o -H newc --quiet) > "$2"
}

lab_counting_initramfs() {
  local out=$1 root
  root=$(mktemp -d /tmp/qt-l2root.XXXXXX)
  lab_busybox_root "$root" sh mount cat echo sleep dd seq head sed
  cat > "$root/init" <<'INIT'
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
  chmod 755 "$root/init"
  lab_cpio "$root" "$out"
  rm -rf "$root"
}

lab_l1_functions() {
  cat <<'L1'
qemu() { /tmp/qemu/lib/ld-linux-x86-64.so.2 --library-path /tmp/qemu/lib /tmp/qemu/qemu-system-x86_64 -L /tmp/qemu/fw "$@"; }
waitsock() { for i in $(seq 1 600); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "L1 no socket $1"; return 1; }
waitfor() { n=0; until grep -q "$1" "$2" 2>/dev/null; do sleep 0.5; n=$((n+1)); [ $n -gt $3 ] && echo "timeout waiting for $1 in $2" && return 1; done; return 0; }
waitapi() { n=0; until qt hypervisor api "$1" GET / > /dev/null 2>&1; do sleep 0.3; n=$((n+1)); [ $n -gt 100 ] && echo "no API on $1" && return 1; done; return 0; }
ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
L1
}
