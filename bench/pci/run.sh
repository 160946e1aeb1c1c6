#!/bin/bash
# bench/pci: in-guest disk throughput, our hypervisor vs QEMU (q35, vhost-user-blk-pci), inside
# the nested lab (L1 = real KVM under QEMU TCG), both against the same back-end: the card's
# vhost-user-blk server (VhostUserBlkServer, via e2e's DiskServer) on a 256 MiB file in L1 RAM.
# One L1 boot; each VMM boots the stock kernel once and runs blkbench (O_DIRECT, QD1):
# sequential 1 MiB read/write and random 4 KiB read/write, SECS seconds each.
# Usage: bench/pci/run.sh [SECS] [ROUNDS]   (from the repo root; ROUNDS alternate ours/QEMU; medians reported)
set -euo pipefail
SECS=${1:-5}
ROUNDS=${2:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/bench-pci.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$ROOT"
. bench/lib/lab.sh

# 1. blkbench, static
gcc -O2 -static -o "$W/blkbench" bench/pci/blkbench.c

# 2. L2 initramfs: busybox + virtio modules + blkbench
MODDIR=$(dirname "$(find "${QT_CACHE:-$HOME/.cache/qingtian}/debs" -name modules.dep | head -1)")
[ -d "$MODDIR" ] || { echo "run ./qt lab run -- true once first (it fetches the stock kernel)"; exit 2; }
R="$W/l2"; lab_busybox_root "$R" sh mount insmod poweroff cat echo; mkdir -p "$R/lib/modules"
cp "$W/blkbench" "$R/bin/"
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev virtio/virtio_pci block/virtio_blk; do
    cp "$MODDIR/kernel/drivers/$m.ko" "$R/lib/modules/"
done
cat > "$R/init" <<INIT
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do insmod /lib/modules/\$m.ko; done
echo "bench-start clocksource=\$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
for t in "seqread 1048576" "seqwrite 1048576" "randread 4096" "randwrite 4096"; do blkbench /dev/vda \$t $SECS; done
poweroff -f
INIT
chmod +x "$R/init"
lab_cpio "$R" "$W/l2.cpio"

# 3. QEMU for L1: binary, the libraries it links, the firmware q35 needs
lab_qemu_bundle "$W/qemu"

# 4. the card's vhost-user-blk server as a class (e2e test classes)
[ -f e2e/target/test-classes/io/qingtian/e2e/RawFileDisk.class ] || \
    ./mvnw -q -B -o -pl e2e -am test-compile -Dsurefire.failIfNoSpecifiedTests=false
mkdir -p "$W/tc/io/qingtian/e2e/pci"; cp e2e/target/test-classes/io/qingtian/e2e/pci/DiskServer*.class "$W/tc/io/qingtian/e2e/pci/"
cp e2e/target/test-classes/io/qingtian/e2e/RawFileDisk.class "$W/tc/io/qingtian/e2e/" # the file it serves

{ echo "ROUNDS=$ROUNDS"; lab_l1_functions; } > "$W/l1.sh"
cat >> "$W/l1.sh" <<'L1'
J="java -cp /tmp/tc:/opt/qt/qingtian-cli.jar:/opt/qt/lib/*"
CMD="console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet"
# KVM's own counters of the (only) L2 VM, from L1's debugfs, at each guest marker line: what
# each VMM costs per I/O in exits, emulated instructions, injections, halts (not just how fast).
mount -t debugfs none /sys/kernel/debug 2>/dev/null
STATS="exits halt_exits halt_successful_poll io_exits mmio_exits insn_emulation irq_injections irq_exits hypercalls pf_fixed"
echo "kvmstat-names $STATS vmm_cpu_ticks backend_cpu_ticks"
# Also CPU time (clock ticks) outside the guest: the VMM process (the debugfs directory is
# named PID-FD) without its guest time, and the back-end process.
cpu() { [ -r /proc/$1/stat ] && awk '{ print $14 + $15 - $43 }' /proc/$1/stat || echo 0; }
bcpu() { [ -r /proc/$1/stat ] && awk '{ print $14 + $15 }' /proc/$1/stat || echo 0; }
snap() { d=$(ls -d /sys/kernel/debug/kvm/*-*/ 2>/dev/null | head -1); [ -n "$d" ] || return 0
         p=$(basename $d); p=${p%%-*}
         printf 'kvmstat %s %s %s' "$1" "$2" "$(cut -d' ' -f1 /proc/uptime)"; for s in $STATS; do printf ' %s' "$(cat $d$s 2>/dev/null || echo 0)"; done
         printf ' %s %s\n' "$(cpu $p)" "$(bcpu $S)"; }
tag() { while IFS= read -r l; do touch /tmp/hb; case "$l" in
            *bench-start*) snap $1 start; echo "$1 $(echo "$l" | grep -o 'clocksource=.*' | tr -d '\r')";;
            *"blkbench "*) r=$(echo "$l" | grep -o 'blkbench .*' | tr -d '\r'); snap $1 $(echo "$r" | cut -d' ' -f2); echo "$1 $r";;
        esac; done; }
# Watchdog: a guest that prints nothing for 60 s is stuck (a phase lasts SECS). Before killing the
# VMM so the rounds go on, print what L1 knows: memory, process states and kernel wait channels,
# whether the guest still exits (KVM counters 5 s apart), and JVM thread dumps of both processes.
# L1's busybox has no pgrep/pkill; the bracket keeps the grep from matching its own command line.
pids() { for d in /proc/[0-9]*; do grep -qaE "$1" $d/cmdline 2>/dev/null && echo ${d#/proc/}; done; }
diag() { echo "watchdog: $1: no guest output for 60 s"; free -m | sed 's/^/watchdog: /'
         for p in $(pids '[j]ava|[q]emu-system'); do for t in /proc/$p/task/*; do
             echo "watchdog: pid $p tid ${t##*/} $(cat $t/comm) $(awk '{print $3}' $t/stat) wchan=$(cat $t/wchan 2>/dev/null)"; done; done
         d=$(ls -d /sys/kernel/debug/kvm/*-*/ 2>/dev/null | head -1)
         for k in 1 2; do [ -n "$d" ] && echo "watchdog: kvm $(for s in $STATS; do printf '%s=%s ' $s "$(cat $d$s)"; done)"; sleep 5; done
         kill -3 $S $(pids '[h]ypervisor.run') 2>/dev/null; sleep 3
         sed 's/^/watchdog: backend: /' /tmp/ds.log | grep -v '^watchdog: backend: *$' | head -150
         sed -n '/Full thread dump/,$p' /tmp/hv.log | sed 's/^/watchdog: vmm: /' | head -150; }
watch() { touch /tmp/hb; while sleep 5; do
              [ $(( $(date +%s) - $(stat -c %Y /tmp/hb) )) -gt 60 ] || continue
              diag $1; kill -9 $(pids '[h]ypervisor.run|[q]emu-system') 2>/dev/null; return; done; }
# A back-end that does not exit on SIGTERM within 10 s gets SIGKILL, so one stuck process cannot
# stall the rounds after it (seen once: L1 idle for minutes after a round).
stop() { kill $S 2>/dev/null; for i in $(seq 1 100); do kill -0 $S 2>/dev/null || break; sleep 0.1; done
         kill -0 $S 2>/dev/null && { echo "watchdog: back-end $S ignored SIGTERM for 10 s, SIGKILL"; kill -9 $S; }
         wait $S 2>/dev/null || true; }
serve() { rm -f /tmp/d.sock; dd if=/dev/zero of=/tmp/d.img bs=1M count=256 2>/dev/null
          $J io.qingtian.e2e.pci.DiskServer /tmp/d.img /tmp/d.sock 1 >/tmp/ds.log 2>&1 & S=$!; waitsock /tmp/d.sock; }
for r in $(seq 1 $ROUNDS); do
serve; watch qingtian & WD=$!
qt hypervisor run --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory 256M --timeout 300 --no-rng \
    --disk socket=/tmp/d.sock --cmdline "$CMD" 2>&1 | tee /tmp/hv.log | tag qingtian
kill $WD 2>/dev/null; stop
serve; watch qemu & WD=$!
timeout -k 5 300 /tmp/qemu/lib/ld-linux-x86-64.so.2 --library-path /tmp/qemu/lib /tmp/qemu/qemu-system-x86_64 -L /tmp/qemu/fw \
    -M q35,accel=kvm,memory-backend=mem -object memory-backend-memfd,id=mem,size=256M,share=on -m 256M -smp 1 -cpu host \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel "$QT_GUEST_KERNEL" -initrd /tmp/l2.cpio \
    -append "$CMD" -chardev socket,id=c0,path=/tmp/d.sock -device vhost-user-blk-pci,chardev=c0,num-queues=1 2>&1 \
    | tag qemu
kill $WD 2>/dev/null; stop
done
true
L1
./qt lab run --timeout $((ROUNDS * 400 + 120)) --file "$W/l2.cpio:/tmp/l2.cpio" --file "$W/qemu:/tmp/qemu" --file "$W/tc:/tmp/tc" \
    --file "$W/l1.sh:/tmp/l1.sh" -- sh /tmp/l1.sh | tr -d '\r' | tee "$W/out.txt"
echo "--- medians over $ROUNDS round(s); ratio ours/QEMU in IOPS (>1: we are faster)"
for m in seqread seqwrite randread randwrite; do
    q=$(awk -v m=$m '$1=="qingtian" && $3==m {print $8}' "$W/out.txt" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
    e=$(awk -v m=$m '$1=="qemu" && $3==m {print $8}' "$W/out.txt" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')
    bs=$(awk -v m=$m '$2=="blkbench" && $3==m {print $4; exit}' "$W/out.txt")
    awk -v m=$m -v q="${q:-0}" -v e="${e:-0}" -v bs="${bs:-0}" 'BEGIN { printf "%-9s ours %7.1f IOPS %8.2f MB/s   qemu %7.1f IOPS %8.2f MB/s   ratio %s\n",
        m, q, q*bs/1e6, e, e*bs/1e6, (e>0 ? sprintf("%.2f", q/e) : "n/a") }'
done
grep -o 'clocksource=.*' "$W/out.txt" | sort | uniq -c | sed 's/^/guest /'
# Per I/O, summed over the rounds: KVM counters of each phase (delta between the markers) / ops,
# and the IOPS by L1's clock (the time between the markers), which does not trust the guest's.
echo "--- KVM counters per I/O (L1 debugfs), IOPS by L1's clock"
awk '$1=="kvmstat-names" { n=NF-1; for (i=2;i<=NF;i++) name[i-1]=$i; next }
     $1=="kvmstat" { who=$2; ph=$3; if (ph!="start" && (who in prev)) { split(prev[who], p, " ");
                        t[who" "ph]+=$4-p[1]; for (i=1;i<=n;i++) d[who" "ph" "i]+=$(4+i)-p[i+1] }
                     prev[who]=""; for (i=4;i<=NF;i++) prev[who]=prev[who]" "$i; next }
     $2=="blkbench" { ops[$1" "$3]+=$5; next }
     END { for (k in ops) { split(k, a, " "); w=(a[1]=="qingtian"?"qingtian":"qemu");
              line=sprintf("%-8s %-9s iops(L1 clock) %7.1f", w, a[2], (t[k]>0?ops[k]/t[k]:0));
              for (i=1;i<=n;i++) line=line sprintf("  %s %.2f", name[i], (ops[k]>0?d[k" "i]/ops[k]:0));
              print line } }' "$W/out.txt" | sort -k2,2 -k1,1
