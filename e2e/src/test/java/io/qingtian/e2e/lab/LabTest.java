package io.qingtian.e2e.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.lab.Lab;
import io.qingtian.lab.LabRequest;
import io.qingtian.lab.LabResult;
import io.qingtian.sys.UserError;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The nested lab end to end: QEMU TCG boots the stock Debian kernel as L1 with kvm-amd, and
 * commands (including the project's qt) run inside it. Each test boots L1 once (~3-5 s plus the
 * command); the first run of the suite on a machine also fetches and builds the lab's inputs.
 */
@Tag("lab")
class LabTest {
    private static final Lab LAB = new Lab();

    @TempDir
    Path tmp;

    @Test
    void l1HasARealKvmWithSvmAndTheGuestInputs() {
        LabResult r = LAB.run(LabRequest.of("sh", "-c", """
                test -c /dev/kvm && echo kvm-device
                grep -q -w svm /proc/cpuinfo && echo svm
                grep -q -w npt /proc/cpuinfo && echo npt
                test -d /sys/module/kvm_amd && echo kvm-amd
                # the bzImage boot protocol magic "HdrS" at 0x202
                dd if="$QT_GUEST_KERNEL" bs=1 skip=514 count=4 2>/dev/null; echo
                head -c 6 "$QT_GUEST_INITRAMFS"; echo
                modprobe virtio_net && test -d /sys/module/virtio_net && echo modprobe-works
                """));
        System.out.println("lab: " + r.timings());
        assertThat(r.exitCode()).as("stderr: %s", r.stderr()).isZero();
        assertThat(r.stdout().lines()).containsExactly("kvm-device", "svm", "npt", "kvm-amd", "HdrS", "070701", "modprobe-works");
        assertThat(r.timings().l1BootMillis()).isPositive();
        assertThat(r.timings().commandMillis()).isNotNegative();
    }

    @Test
    void javaKvmProgramRunsAnL2PayloadToHlt() {
        LabResult r = LAB.run(LabRequest.of("qt", "lab", "kvm-smoke", "--exits", "3000"));
        System.out.println("lab: " + r.timings() + "; " + r.stdout().strip());
        assertThat(r.exitCode()).as("stderr: %s", r.stderr()).isZero();
        assertThat(r.stdout()).contains("kvm-smoke: HLT after 3000 port-I/O exits on kvm-amd");
    }

    @Test
    void failingCommandsStatusAndStderrReachTheCallerAndFilesGoIn() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("in/sub"));
        Files.writeString(dir.resolve("data.txt"), "from the host\n");
        Path script = tmp.resolve("fail.sh");
        Files.writeString(script, "cat /tmp/in/sub/data.txt\necho result-on-disk > /dev/vdb\necho 'it broke' >&2\nexit 7\n");
        Path results = tmp.resolve("results.img");
        Files.write(results, new byte[1 << 20]);
        ByteArrayOutputStream streamedOut = new ByteArrayOutputStream();
        ByteArrayOutputStream streamedErr = new ByteArrayOutputStream();
        LabResult r = LAB.run(LabRequest.of("sh", "/tmp/fail.sh")
                .withFile(tmp.resolve("in"), "/tmp/in").withFile(script, "/tmp/fail.sh").withDisk(results, true),
                streamedOut, streamedErr);
        assertThat(r.exitCode()).isEqualTo(7);
        assertThat(r.timedOut()).isFalse();
        assertThat(r.stdout()).isEqualTo("from the host\n");
        assertThat(r.stderr()).isEqualTo("it broke\n");
        assertThat(streamedOut.toString(StandardCharsets.UTF_8)).isEqualTo(r.stdout());
        assertThat(streamedErr.toString(StandardCharsets.UTF_8)).isEqualTo(r.stderr());
        // a writable extra disk brings results back (L1 syncs before it powers off)
        assertThat(new String(Files.readAllBytes(results), 0, 16, StandardCharsets.US_ASCII)).isEqualTo("result-on-disk\n\0");
    }

    /**
     * Emulator faults are injected as they show: the hs_err file a JVM dying of SIGILL leaves,
     * and the line qt hypervisor run logs for an L2 triple fault. The first L1 marks a disk that
     * outlives it and then hangs, as a test whose back-end or guest died would; the lab must
     * notice, stop that L1 and run the command again in a fresh one.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "/tmp/card/hs_err_pid428.log | #\\n#  SIGILL (0x4) at pc=0x00007ff43d746724, pid=428, tid=512\\n# Problematic frame:\\n# J 1130 c1 Foo.bar()V\\n"
                + " | lab: a JVM in L1 crashed: /tmp/card/hs_err_pid428.log SIGILL (0x4): J 1130 c1 Foo.bar()V",
        "/tmp/l2.log | qt hypervisor: guest triple fault (KVM_EXIT_SHUTDOWN) on vCPU 0\\n"
                + " | lab: an L2 guest triple-faulted (/tmp/l2.log)"})
    void anEmulatorFaultStopsThatL1AndTheCommandRunsAgainInAFreshOne(String file, String content, String report) throws Exception {
        Path script = tmp.resolve("fault.sh");
        Files.writeString(script, """
                if [ "$(head -c 4 /dev/vdb)" = "seen" ]; then echo second-run; exit 0; fi
                echo seen > /dev/vdb; sync
                mkdir -p $(dirname %s)
                printf '%s' > %s
                echo first-run; sleep 600
                """.formatted(file, content, file));
        Path marker = tmp.resolve("marker.img");
        Files.write(marker, new byte[1 << 20]);
        ByteArrayOutputStream streamedOut = new ByteArrayOutputStream();
        ByteArrayOutputStream streamedErr = new ByteArrayOutputStream();
        long t0 = System.nanoTime();
        LabResult r = LAB.run(LabRequest.of("sh", "/tmp/fault.sh").withFile(script, "/tmp/fault.sh").withDisk(marker, true)
                .withTimeout(Duration.ofMinutes(5)), streamedOut, streamedErr);
        assertThat(r.exitCode()).as(streamedErr.toString(StandardCharsets.UTF_8)).isZero();
        assertThat(r.stdout()).isEqualTo("second-run\n");
        assertThat(streamedOut.toString(StandardCharsets.UTF_8)).isEqualTo("first-run\nsecond-run\n");
        assertThat(streamedErr.toString(StandardCharsets.UTF_8)).contains(report).contains("rerunning once in a fresh L1");
        assertThat(r.jvmCrashes()).isEmpty(); // the rerun's own
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("the hung first run is cut short").isLessThan(Duration.ofMinutes(5));
    }

    /** {@code qt lab run ARGS} through the real CLI in its own JVM, as scripts use it. */
    private static Process qtLabRun(java.util.Map<String, String> env, String... args) throws java.io.IOException {
        Path dist = Lab.defaultDist();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", dist.resolve("qingtian-cli.jar") + ":" + dist.resolve("lib") + "/*",
                "io.qingtian.cli.Qt", "lab", "run"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().putAll(env);
        return pb.start();
    }

    @Test
    void anL1ThatCannotBootIsAClearErrorNotAHang() throws Exception {
        // An init that does not exist: the L1 kernel panics; the lab retries once, then says so.
        Process p = qtLabRun(java.util.Map.of("QT_LAB_KERNEL_ARGS", "rdinit=/no-such-init"), "--timeout", "300", "--", "true");
        p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(stderr).isEqualTo(Lab.LAB_FAILURE_EXIT);
        assertThat(stderr).contains("retrying once", "lab: L1 stopped before its init was ready", "Kernel panic");
    }

    @Test
    void aCommandThatNeverEndsIsReportedAsTimedOut() throws Exception {
        // Through the real CLI, as scripts use it: exit code 124 and a clear message.
        Process p = qtLabRun(java.util.Map.of(), "--timeout", "20", "--", "sh", "-c", "echo started; sleep 600");
        Thread.ofVirtual().start(() -> {
            try {
                p.getInputStream().transferTo(System.out);
            } catch (java.io.IOException ignored) {
                // test reads stderr below
            }
        });
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("qt lab run must end by itself after its timeout").isTrue();
        assertThat(p.exitValue()).isEqualTo(Lab.TIMEOUT_EXIT);
        assertThat(stderr).contains("lab: timed out after 20 s");
        // Halfway through, L1 said what was running (the hung command among its processes) and
        // the host added the console's last lines.
        assertThat(stderr).containsPattern("qt-lab diag: pid \\d+ S sleep 600")
                .contains("qt-lab diag: load ", "lab: the command did not finish within 20 s; L1 console ends:");
    }

    @Test
    void aMissingHostFileIsAUserErrorBeforeBooting() {
        assertThatThrownBy(() -> LAB.run(LabRequest.of("true").withFile(tmp.resolve("nope"), "/tmp/nope")))
                .isInstanceOf(UserError.class).hasMessageContaining("no such file or directory on the host");
    }

    @Test
    void timeoutThroughTheApiSaysSo() {
        LabResult r = LAB.run(LabRequest.of("sleep", "600").withTimeout(Duration.ofSeconds(15)));
        assertThat(r.timedOut()).isTrue();
        assertThat(r.exitCode()).isEqualTo(Lab.TIMEOUT_EXIT);
    }
}
