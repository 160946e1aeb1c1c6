package io.qingtian.e2e.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.Lab;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qt hypervisor run} as a user runs it (the packaged CLI in a child process): bad input
 * is one line on stderr, exit status 2, no stack trace; a guest's outcome is the exit status.
 * Needs /dev/kvm for the cases that get as far as KVM.
 */
@Tag("kvm")
class HypervisorCliTest {
    @TempDir
    Path dir;

    record Run(int status, String stdout, String stderr) {}

    static Run qt(String... args) throws Exception {
        Path dist = Lab.defaultDist();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", dist.resolve("qingtian-cli.jar") + ":" + dist.resolve("lib") + "/*", "io.qingtian.cli.Qt"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        byte[][] buf = new byte[2][];
        Thread o = Thread.ofVirtual().start(() -> buf[0] = readAll(p.getInputStream()));
        Thread e = Thread.ofVirtual().start(() -> buf[1] = readAll(p.getErrorStream()));
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("qt finished").isTrue();
        o.join();
        e.join();
        return new Run(p.exitValue(), new String(buf[0], StandardCharsets.UTF_8), new String(buf[1], StandardCharsets.UTF_8));
    }

    static byte[] readAll(java.io.InputStream in) {
        try {
            return in.readAllBytes();
        } catch (java.io.IOException ex) {
            return new byte[0];
        }
    }

    static void assertOneLineError(Run r, String text) {
        assertThat(r.status()).as("stderr: %s", r.stderr()).isEqualTo(2);
        assertThat(r.stderr().lines()).as("stderr: %s", r.stderr()).hasSize(1);
        assertThat(r.stderr()).startsWith("qt: ").contains(text).doesNotContain("Exception").doesNotContain("\tat ");
    }

    /** A bzImage header (boot protocol {@code version}) whose 64-bit entry runs {@code code}. */
    static Path bzImage(Path dir, int version, byte[] code) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(5 * 512 + 0x200 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 4).putShort(0x1fe, (short) 0xaa55).put(0x201, (byte) 0x6a).putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) version).put(0x211, (byte) 1).putInt(0x22c, 0x7fffffff).putInt(0x230, 0x200000);
        b.put(0x234, (byte) 1).putShort(0x236, (short) 3).putInt(0x238, 2047).putLong(0x258, 0x1000000L);
        b.putInt(0x260, 0x10000);
        b.put(5 * 512 + 0x200, code);
        return Files.write(dir.resolve("bzImage-" + version), b.array());
    }

    /** mov dx,0x3f8; mov al,'Q'; out dx,al; mov al,10; out dx,al; then ACPI S5 (0x3400 to port 0x604). */
    static final byte[] PRINT_AND_POWER_OFF = {0x66, (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 'Q', (byte) 0xee,
            (byte) 0xb0, 0x0a, (byte) 0xee, 0x66, (byte) 0xba, 0x04, 0x06, 0x66, (byte) 0xb8, 0x00, 0x34, 0x66,
            (byte) 0xef, (byte) 0xeb, (byte) 0xfe};

    @Test
    void missingKernelIsOneLine() throws Exception {
        assertOneLineError(qt("hypervisor", "run", "--kernel", dir.resolve("nope").toString()), "does not exist");
    }

    @Test
    void corruptKernelIsOneLine() throws Exception {
        Path junk = Files.write(dir.resolve("junk"), new byte[64 * 1024]);
        assertOneLineError(qt("hypervisor", "run", "--kernel", junk.toString()), "not a bzImage");
    }

    @Test
    void oldBootProtocolIsOneLine() throws Exception {
        Path k = bzImage(dir, 0x0209, PRINT_AND_POWER_OFF);
        assertOneLineError(qt("hypervisor", "run", "--kernel", k.toString()), "2.12");
    }

    @Test
    void tooManyVcpusAndTooLittleMemoryAreOneLine() throws Exception {
        Path k = bzImage(dir, 0x020f, PRINT_AND_POWER_OFF);
        assertOneLineError(qt("hypervisor", "run", "--kernel", k.toString(), "--cpus", "300"), "too many vCPUs");
        assertOneLineError(qt("hypervisor", "run", "--kernel", k.toString(), "--memory", "8M"), "memory too small");
        assertOneLineError(qt("hypervisor", "run", "--kernel", k.toString(), "--memory", "lots"), "bad memory size");
        Path big = Files.write(dir.resolve("initrd"), new byte[40 << 20]);
        assertOneLineError(qt("hypervisor", "run", "--kernel", k.toString(), "--initramfs", big.toString(),
                "--memory", "32M"), "memory too small");
    }

    @Test
    void tooLongCommandLineIsOneLine() throws Exception {
        Path k = bzImage(dir, 0x020f, PRINT_AND_POWER_OFF);
        assertOneLineError(qt("hypervisor", "run", "--kernel", k.toString(), "--cmdline", "x".repeat(3000)), "too long");
    }

    @Test
    void guestPowerOffIsExitStatusZeroWithTheConsoleOnStdout() throws Exception {
        Path k = bzImage(dir, 0x020f, PRINT_AND_POWER_OFF);
        Run r = qt("hypervisor", "run", "--kernel", k.toString(), "--memory", "32M", "--cpus", "2");
        assertThat(r.status()).as("stderr: %s", r.stderr()).isZero();
        assertThat(r.stdout()).isEqualTo("Q\n");
    }
}
