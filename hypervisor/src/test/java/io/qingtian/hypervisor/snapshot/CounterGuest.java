package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmBuilder;
import io.qingtian.hypervisor.VmConfig;
import io.qingtian.hypervisor.boot.SyntheticKernels;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A tiny guest for pause/snapshot tests: prints "OK" on COM1, then increments a 32-bit counter
 * at guest-physical {@link #COUNTER_GPA} forever, so guest progress is visible from the host.
 */
public final class CounterGuest {
    public static final long COUNTER_GPA = 0x30_0000L;
    /** mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; mov al,10; out dx,al. */
    private static final byte[] PRINT_OK = {0x66, (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 'O', (byte) 0xee,
            (byte) 0xb0, 'K', (byte) 0xee, (byte) 0xb0, 0x0a, (byte) 0xee};
    /** l: inc dword [0x300000] (FF /0, SIB absolute disp32); jmp l. */
    private static final byte[] COUNT = {(byte) 0xff, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, (byte) 0xeb, (byte) 0xf7};

    private CounterGuest() {}

    /** Writes the guest as a bzImage into {@code dir} and returns its path. */
    public static Path kernel(Path dir) throws IOException {
        byte[] code = new byte[PRINT_OK.length + COUNT.length];
        System.arraycopy(PRINT_OK, 0, code, 0, PRINT_OK.length);
        System.arraycopy(COUNT, 0, code, PRINT_OK.length, COUNT.length);
        return Files.write(dir.resolve("counter-bzImage"), SyntheticKernels.bzImageRunning(code));
    }

    public static long counter(GuestMemory mem) throws GuestMemoryException {
        return Integer.toUnsignedLong(mem.readU32(COUNTER_GPA));
    }

    /** Builds and starts the guest with {@code cpus} vCPUs and 64 MiB, no PCI devices, its console on {@code out}. */
    public static Vm boot(Path dir, int cpus, OutputStream out) throws IOException {
        VmConfig cfg = new VmConfig(new VmConfig.Machine(cpus, 64L << 20),
                new VmConfig.BootSource(kernel(dir), null, "console=ttyS0"), new PciDevicesConfig(List.of(), List.of(), false));
        Vm vm = VmBuilder.build(cfg, new Console(out, null));
        vm.start();
        return vm;
    }

    /** Waits (20 s at most) until the counter passes {@code floor} while the VM keeps running; returns it. */
    public static long awaitCounterAbove(Vm vm, long floor) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        long c;
        while ((c = counter(vm.ram().memory())) <= floor) {
            assertThat(System.nanoTime()).as("counter passes " + floor).isLessThan(deadline);
            assertThat(vm.awaitExit(Duration.ofMillis(5))).as("VM still running").isNull();
        }
        return c;
    }
}
