package io.qingtian.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.boot.SyntheticKernels;
import io.qingtian.sys.UserError;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole build path (memory, irqchip, devices, ACPI, loader, vCPUs) on this host's KVM,
 * with a synthetic bzImage whose 64-bit entry prints through the real 16550 and then ends the
 * VM the way Linux does: ACPI S5, an i8042 reset pulse, or a triple fault.
 */
@Tag("kvm")
class VmBuilderTest {
    /** mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; mov al,10; out dx,al. */
    static final byte[] PRINT_OK = {0x66, (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 'O', (byte) 0xee,
            (byte) 0xb0, 'K', (byte) 0xee, (byte) 0xb0, 0x0a, (byte) 0xee};
    /** mov dx,0x604; mov ax,0x3400 (SLP_TYP=5, SLP_EN); out dx,ax; jmp $. */
    static final byte[] ACPI_S5 = {0x66, (byte) 0xba, 0x04, 0x06, 0x66, (byte) 0xb8, 0x00, 0x34, 0x66, (byte) 0xef,
            (byte) 0xeb, (byte) 0xfe};
    /** mov al,0xfe; out 0x64,al (pulse the reset line); jmp $. */
    static final byte[] KBD_RESET = {(byte) 0xb0, (byte) 0xfe, (byte) 0xe6, 0x64, (byte) 0xeb, (byte) 0xfe};
    /**
     * mov rax,[0x100000000]: outside the 4 GiB identity map, so #PF; the 8-byte boot IDT has
     * no gate for it: #GP, #DF, triple fault. (An int3 would do on hardware, but PVM fails to
     * emulate it and reports an internal error instead.)
     */
    static final byte[] TRIPLE_FAULT = {0x48, (byte) 0xa1, 0, 0, 0, 0, 1, 0, 0, 0, (byte) 0xeb, (byte) 0xfe};

    @TempDir
    Path dir;

    /**
     * Echo one byte, plus one: mov dx,0x3fc; mov al,0x0b; out dx,al (MCR: DTR, RTS, OUT2 — the UART
     * holds host input until the guest raises RTS, as a terminal with flow control would);
     * mov dx,0x3fd; l: in al,dx; test al,1; jz l (wait for LSR.DR);
     * mov dx,0x3f8; in al,dx; inc al; out dx,al; mov al,10; out dx,al.
     */
    static final byte[] ECHO_NEXT = {0x66, (byte) 0xba, (byte) 0xfc, 0x03, (byte) 0xb0, 0x0b, (byte) 0xee, 0x66, (byte) 0xba, (byte) 0xfd, 0x03, (byte) 0xec, (byte) 0xa8, 0x01, 0x74,
            (byte) 0xfb, 0x66, (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xec, (byte) 0xfe, (byte) 0xc0, (byte) 0xee,
            (byte) 0xb0, 0x0a, (byte) 0xee};

    private VmExit run(byte[] tail, int cpus, ByteArrayOutputStream out) throws Exception {
        return run(tail, cpus, out, null);
    }

    private VmExit run(byte[] tail, int cpus, ByteArrayOutputStream out, java.io.InputStream in) throws Exception {
        byte[] code = new byte[PRINT_OK.length + tail.length];
        System.arraycopy(PRINT_OK, 0, code, 0, PRINT_OK.length);
        System.arraycopy(tail, 0, code, PRINT_OK.length, tail.length);
        Path k = Files.write(dir.resolve("bzImage"), SyntheticKernels.bzImageRunning(code));
        VmConfig cfg = new VmConfig(new VmConfig.Machine(cpus, 32L << 20), new VmConfig.BootSource(k, null, "console=ttyS0"));
        try (Vm vm = VmBuilder.build(cfg, new Console(out, in))) {
            vm.start();
            VmExit exit = vm.awaitExit(Duration.ofSeconds(20));
            assertThat(exit).as("VM ended").isNotNull();
            return exit;
        }
    }

    @Test
    void acpiPowerOffEndsTheVmWithStatusZeroAfterSerialOutput() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmExit exit = run(ACPI_S5, 2, out);
        assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.POWEROFF);
        assertThat(exit.code()).isZero();
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("OK\n");
    }

    @Test
    void hostInputReachesTheGuestThroughTheUart() throws Exception {
        byte[] tail = new byte[ECHO_NEXT.length + ACPI_S5.length];
        System.arraycopy(ECHO_NEXT, 0, tail, 0, ECHO_NEXT.length);
        System.arraycopy(ACPI_S5, 0, tail, ECHO_NEXT.length, ACPI_S5.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmExit exit = run(tail, 1, out, new java.io.ByteArrayInputStream(new byte[] {'a'}));
        assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.POWEROFF);
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("OK\nb\n");
    }

    @Test
    void i8042ResetIsAReboot() throws Exception {
        VmExit exit = run(KBD_RESET, 1, new ByteArrayOutputStream());
        assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.REBOOT);
        assertThat(exit.code()).isEqualTo(3);
    }

    @Test
    void tripleFaultIsACrash() throws Exception {
        VmExit exit = run(TRIPLE_FAULT, 1, new ByteArrayOutputStream());
        assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.CRASH);
        assertThat(exit.code()).isEqualTo(4);
    }

    @Test
    void kernelThatDoesNotFitIsAUserError() throws Exception {
        Path k = Files.write(dir.resolve("bzImage"), SyntheticKernels.bzImageRunning(PRINT_OK));
        Path big = Files.write(dir.resolve("initrd"), new byte[20 << 20]);
        VmConfig cfg = new VmConfig(new VmConfig.Machine(1, 32L << 20), new VmConfig.BootSource(k, big, ""));
        assertThatThrownBy(() -> VmBuilder.build(cfg, new Console(new ByteArrayOutputStream(), null)))
                .isInstanceOf(UserError.class).hasMessageContaining("memory too small");
    }
}
