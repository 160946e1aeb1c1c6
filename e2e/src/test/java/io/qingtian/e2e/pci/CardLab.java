package io.qingtian.e2e.pci;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.Lab;
import io.qingtian.lab.LabRequest;
import io.qingtian.lab.LabResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * What the lab tests of this package share: the L1 shell functions that run our hypervisor and
 * the card daemon inside L1, and the start of every L2 init (reading the tagged output back: {@link io.qingtian.e2e.Outputs}).
 *
 * <p>Conventions: L1 prints lines starting {@code L1 }, L2 (the guest console, captured in
 * {@code /tmp/NAME.log}) lines starting {@code L2 }; {@code hv NAME ARGS} boots one guest and
 * echoes its {@code L2 } lines as {@code L2 NAME ...}.
 */
final class CardLab {
    private CardLab() {}

    /**
     * Kernel command line for L2 guests of our hypervisor (no PS/2 probing: it has no i8042).
     * {@code quiet}: fewer exits (a few hundred instead of ~16,600 per boot), so less exposure to
     * the lab's nested-SVM fault, which corrupts an L2's saved state now and then (3 bad boots in
     * 75 of ours, 0 in 40 of QEMU's, not a significant difference; one at the very first exit,
     * before any device of ours ran; bench/lab/triple-fault.sh). The lab reruns a command whose
     * L2 triple-faulted once; the tests read their own markers and dmesg.
     */
    static final String CMDLINE = "console=ttyS0 quiet reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

    /** First lines of every L2 init: file systems and the initramfs's modules. */
    static final String L2_PRELUDE = io.qingtian.e2e.GuestInit.PRELUDE;

    /**
     * L1 shell functions.
     * <ul>
     *   <li>{@code waitsock PATH}: wait up to 60 s for a unix socket;
     *   <li>{@code hv NAME ARGS...}: {@code qt hypervisor run} with the L2 kernel and /tmp/l2.cpio,
     *       in the foreground, then its exit status and the guest's {@code L2 } lines;
     *   <li>{@code hvlines NAME}: the guest's {@code L2 } lines tagged with NAME (for a guest run
     *       in the background);
     *   <li>{@code card_up}: start the card daemon on /tmp/card in the background (pid in
     *       {@code $CARD}, log appended to /tmp/card.log) and wait until its control socket answers;
     *   <li>{@code card ARGS...}: {@code qt card ARGS --state /tmp/card};
     *   <li>{@code filesum NAME FILE}: md5 of the first 4 MiB of FILE.
     * </ul>
     */
    static final String L1_FUNCTIONS = """
            CMD="%s"
            waitsock() { for i in $(seq 1 600); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "L1 no socket $1"; return 1; }
            hvlines() { grep -E '^L2 ' /tmp/$1.log | sed "s/^L2 /L2 $1 /"; grep -q '^L2 end' /tmp/$1.log || tail -40 /tmp/$1.log; }
            hv() { name=$1; shift; echo "L1 boot $name"
                   qt hypervisor run --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory 256M --timeout 240 "$@" > /tmp/$name.log 2>&1
                   echo "L1 hv-exit $name $?"; hvlines $name; }
            card() { qt card "$@" --state /tmp/card; }
            card_up() {
                qt card run --state /tmp/card >> /tmp/card.log 2>&1 & CARD=$!
                for i in $(seq 1 120); do card volume list >/dev/null 2>&1 && return 0; sleep 0.5; done
                echo "L1 card did not start"; tail -20 /tmp/card.log; return 1; }
            filesum() { echo "L1 filesum $1 $(dd if=$2 bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1)"; }
            """.formatted(CMDLINE);

    /** Runs {@code script} (after {@link #L1_FUNCTIONS}) in L1 with the L2 initramfs at /tmp/l2.cpio. */
    static LabResult run(Path tmp, Path l2Initramfs, String script, Duration timeout) throws Exception {
        return run(tmp, l2Initramfs, script, timeout, UnaryOperator.identity());
    }

    /** The same, with more files ({@code extra} adds them to the request). */
    static LabResult run(Path tmp, Path l2Initramfs, String script, Duration timeout, UnaryOperator<LabRequest> extra)
            throws Exception {
        Path sh = tmp.resolve("l1.sh");
        Files.writeString(sh, L1_FUNCTIONS + script);
        LabRequest req = LabRequest.of("sh", "/tmp/l1.sh")
                .withFile(l2Initramfs, "/tmp/l2.cpio").withFile(sh, "/tmp/l1.sh")
                .withTimeout(timeout);
        LabResult r = new Lab().run(extra.apply(req), System.out, System.err);
        assertThat(r.exitCode()).as("stdout: %s%nstderr: %s", r.stdout(), r.stderr()).isZero();
        return r;
    }
}
