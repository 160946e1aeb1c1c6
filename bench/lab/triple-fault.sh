#!/bin/bash
# bench/lab/triple-fault.sh: how often an L2 boot of the stock kernel ends in a triple fault
# (KVM_EXIT_SHUTDOWN) in the nested lab, with our hypervisor and with QEMU as the L2 VMM: same
# kernel, command line, 256 MiB, no initramfs (the kernel panics at the root mount and reboots
# after panic=1: that reboot is the normal end). The VMMs alternate boot by boot, in one L1.
#
# Usage: bench/lab/triple-fault.sh [BOOTS] [VMMS] [CPUS] [CMDLINE]
#   BOOTS   boots per VMM (default 15)
#   VMMS    any of "ours qemu" (default both)
#   CPUS    L2 vCPUs (default 1)
#   CMDLINE L2 kernel command line (default "console=ttyS0 panic=1 reboot=k")
# A boot ends as: ok (the kernel's reboot after its panic), FAULT (triple fault), HANG (no end
# within ~110 s; ours then dumps each vCPU's registers and last exits), or other.
# Environment: TRACE=1 records KVM's tracepoints in L1 (ftrace) and prints the last ones before
# each fault; EXTRA="..." adds flags to our `qt hypervisor run`; QEMU_CPU (default host) is
# QEMU's -cpu. The console and stderr tail of every boot that did not end ok is printed.
# INTLOG=FILE makes the host's QEMU (L0, which emulates SVM for L1) log every exception and
# interrupt it delivers (-d int) to FILE, and prints its double-fault chains at the end: on AMD,
# KVM resets a vCPU after a triple fault, so L0's log (and TRACE=1's kvm_exit RIP) are where the
# faulting context survives. FILE grows by ~100 MB per boot.
set -euo pipefail
BOOTS=${1:-15}
VMMS=${2:-"ours qemu"}
CPUS=${3:-1}
CMD=${4:-"console=ttyS0 panic=1 reboot=k"}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/triple-fault.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$ROOT"
. bench/lib/lab.sh

files=()
if [[ " $VMMS " == *" qemu "* ]]; then
    # QEMU for L1 (bench/lib/lab.sh): the binary, the libraries it links, its firmware.
    lab_qemu_bundle "$W/qemu"
    files+=(--file "$W/qemu:/tmp/qemu")
fi

{
    printf 'BOOTS=%q VMMS=%q CPUS=%q CMD=%q TRACE=%q EXTRA=%q QEMU_CPU=%q\n' "$BOOTS" "$VMMS" "$CPUS" "$CMD" \
        "${TRACE:-0}" "${EXTRA:-}" "${QEMU_CPU:-host}"
    cat <<'L1'
T=/sys/kernel/tracing
if [ "$TRACE" = 1 ]; then
    mount -t tracefs nodev $T 2>/dev/null || true
    echo 8192 > $T/buffer_size_kb
    echo 1 > $T/events/kvm/enable
    # Freeze the buffer at the first sign of trouble, so the lead-up is kept: a SHUTDOWN exit
    # (127), or a nested page fault on a reserved-bit (MMIO) entry while an event is being
    # delivered (1024 with EXITINTINFO valid): the livelock seen when L2 runs with a bogus CR3.
    echo 'traceoff if exit_reason == 127 || (exit_reason == 1024 && intr_info != 0 && info1 & 8)' \
        > $T/events/kvm/kvm_exit/trigger 2>/dev/null || echo "trace: no traceoff trigger (filter refused)"
    echo "trace: kvm events on"
fi
run_ours() {
    # --timeout -v: a hung guest ends with status 6 and a dump of each vCPU's state and last exits
    timeout -k 5 150 qt hypervisor run --kernel "$QT_GUEST_KERNEL" --memory 256M --cpus $CPUS --cmdline "$CMD" $EXTRA \
        --timeout 110 -v > /tmp/l2.log 2>&1
}
run_qemu() {
    timeout -k 5 110 /tmp/qemu/lib/ld-linux-x86-64.so.2 --library-path /tmp/qemu/lib /tmp/qemu/qemu-system-x86_64 \
        -L /tmp/qemu/fw -M q35,accel=kvm -cpu $QEMU_CPU -smp $CPUS -m 256M -nodefaults -no-user-config -nographic \
        -serial stdio -no-reboot -kernel "$QT_GUEST_KERNEL" -append "$CMD" > /tmp/l2.log 2>&1
}
for v in $VMMS; do eval "ok_$v=0 fault_$v=0 hang_$v=0 other_$v=0"; done
for i in $(seq 1 $BOOTS); do
    for v in $VMMS; do
        [ "$TRACE" = 1 ] && { echo > $T/trace; echo 1 > $T/tracing_on; }
        t0=$(cut -d' ' -f1 /proc/uptime)
        rc=0; run_$v || rc=$?
        t1=$(cut -d' ' -f1 /proc/uptime)
        # ours: 3 = the guest rebooted, 4 = triple fault. QEMU (-no-reboot) exits 0 both on the
        # kernel's reboot and on a triple fault: only the reboot prints "Rebooting in"; stopped
        # by timeout's SIGTERM it says "terminating on signal".
        if [ $v = ours ]; then
            case $rc in 3) r=ok;; 4) r=FAULT;; 6) r=HANG;; *) r=other;; esac
        elif grep -q "Rebooting in" /tmp/l2.log; then r=ok
        elif grep -q "terminating on signal" /tmp/l2.log || [ $rc = 124 ] || [ $rc = 143 ]; then r=HANG
        elif [ $rc = 0 ]; then r=FAULT
        else r=other
        fi
        case $r in
            ok) eval "ok_$v=\$((ok_$v+1))";; FAULT) eval "fault_$v=\$((fault_$v+1))";;
            HANG) eval "hang_$v=\$((hang_$v+1))";; *) eval "other_$v=\$((other_$v+1))";;
        esac
        echo "boot $i $v rc=$rc $r $(awk -v a=$t0 -v b=$t1 'BEGIN{printf "%.1f s", b-a}') lines=$(wc -l < /tmp/l2.log)"
        if [ $r != ok ]; then
            echo "---- $v boot $i: last lines of the console and stderr"
            tail -n 90 /tmp/l2.log | tr -d '\r'
            if [ "$TRACE" = 1 ]; then
                echo "---- $v boot $i: last KVM trace events"
                grep -v '^#' $T/trace | tail -n 150
            fi
            # RIPs of the end state resolved against L1's own symbols: an L2 whose saved state was
            # replaced by L1's host state shows RIPs in L1's kvm_amd (module space).
            for a in $(grep -o 'rip[= ]0x[0-9a-f]*\|rip[= ][0-9a-f]\{16\}' /tmp/l2.log $( [ "$TRACE" = 1 ] && echo $T/trace) 2>/dev/null \
                       | grep -o '[0-9a-f]\{16\}$' | sort -ru | head -5); do
                # equal-length lowercase hex strings sort like the numbers (busybox awk has no strtonum)
                awk -v a=$a '$1 <= a && $1 > best { best = $1; s = $3 " " $4 }
                     END { if (best != "") print "L1 symbol for " a ": " s " (starts at " best ")" }' /proc/kallsyms
            done
            echo "----"
        fi
    done
done
for v in $VMMS; do eval "echo \"summary $v: boots $BOOTS ok \$ok_$v faults \$fault_$v hangs \$hang_$v other \$other_$v\""; done
L1
} > "$W/l1.sh"
if [ -n "${INTLOG:-}" ]; then
    # The lab starts qemu-system-x86_64 from PATH: a wrapper first in PATH adds the logging.
    mkdir -p "$W/bin"
    printf '#!/bin/sh\nexec %s "$@" -d int -D %q\n' "$(command -v qemu-system-x86_64)" "$INTLOG" > "$W/bin/qemu-system-x86_64"
    chmod +x "$W/bin/qemu-system-x86_64"
    export PATH="$W/bin:$PATH"
fi
./qt lab run --timeout $((BOOTS * 150 * $(wc -w <<< "$VMMS") + 120)) "${files[@]}" --file "$W/l1.sh:/tmp/l1.sh" \
    -- sh /tmp/l1.sh | tr -d '\r'
if [ -n "${INTLOG:-}" ] && [ -f "$INTLOG" ]; then
    echo "---- L0 double-fault chains (check_exception into #DF, and what followed a #DF)"
    grep -n -B2 -A2 "check_exception old: 0x[0-9a-f]* new 0x8\|check_exception old: 0x8 " "$INTLOG" | tail -n 60 || true
fi
