package io.qingtian.hypervisor.snapshot;

import io.qingtian.hypervisor.boot.SyntheticKernels;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

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
}
