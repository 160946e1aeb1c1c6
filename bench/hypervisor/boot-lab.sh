#!/usr/bin/env bash
# Boot to the init marker in the nested lab: our hypervisor vs QEMU (-M microvm,rtc=on and
# -M q35) as the L2 VMM, same stock kernel, same busybox initramfs ($QT_GUEST_INITRAMFS prints
# "qingtian-l2: init reached" and powers off), 256 MiB, in ONE L1 boot so all see the same load.
# QEMU is not part of L1, so this script copies the host's qemu-system-x86_64, the libraries it
# links and its firmware into L1 (about 50 MB).
# Usage: bench/hypervisor/boot-lab.sh [CPUS] [ROUNDS]
# Prints, per VMM and round, "BOOT vmm=... ms=..." (from process start to the marker line, by
# L1's /proc/uptime, 10 ms resolution) and a summary with the median of each.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cpus="${1:-2}"; rounds="${2:-2}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$root/bench/lib/lab.sh"
lab_qemu_bundle "$tmp/qemu"
{ echo '#!/bin/sh'; echo '# runs inside L1'; lab_l1_functions; } > "$tmp/bench.sh"
cat >> "$tmp/bench.sh" <<SCRIPT
up() { cut -d' ' -f1 /proc/uptime | tr -d .; }   # centiseconds
measure() { # name, command...
  name=\$1; shift
  t0=\$(up)
  "\$@" 2>&1 | while IFS= read -r l; do
    case "\$l" in *"qingtian-l2: init reached"*) echo "BOOT vmm=\$name ms=\$(( (\$(up) - t0) * 10 ))";; esac
  done
}
K=\$QT_GUEST_KERNEL; I=\$QT_GUEST_INITRAMFS; CL="console=ttyS0 reboot=k panic=1 pci=off quiet"
Q="qemu -accel kvm -cpu host -smp $cpus -m 256 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel \$K -initrd \$I"
for r in \$(seq $rounds); do
  measure qemu-microvm \$Q -M microvm,rtc=on -append "\$CL"
  measure qemu-q35 \$Q -M q35 -append "\$CL"
  measure qt-memfd qt hypervisor run --kernel \$K --initramfs \$I --cpus $cpus --memory 256M --cmdline "\$CL"
  measure qt-anonymous qt hypervisor run --kernel \$K --initramfs \$I --cpus $cpus --memory 256M --memory-backing anonymous --cmdline "\$CL"
done
SCRIPT
out="$(cd "$root" && ./qt lab run --timeout 1800 --file "$tmp/qemu:/tmp/qemu" --file "$tmp/bench.sh:/tmp/bench.sh" -- sh /tmp/bench.sh)"
echo "$out"
for v in qemu-microvm qemu-q35 qt-memfd qt-anonymous; do
  echo "$out" | grep "vmm=$v " | sed 's/.*ms=//' | sort -n | awk -v v="$v" '{a[NR]=$1} END {if (NR) printf "MEDIAN %s %d ms (%d runs; lower median)\n", v, a[int((NR+1)/2)], NR}'
done
