package io.qingtian.e2e.control;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A synthetic bzImage (after hypervisor/src/test/.../SyntheticKernels) whose 64-bit entry prints
 * "@!" on COM1 and then sleeps forever (cli; hlt): an instance that stays RUNNING on this host's
 * PVM /dev/kvm without burning CPU.
 */
final class TinyKernel {
    static final byte[] PRINT_K_THEN_HALT = {
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03, // mov dx, 0x3f8
            (byte) 0xB0, 0x40, // mov al, '@'
            (byte) 0xEE, // out dx, al
            (byte) 0xB0, 0x21, // mov al, '!'
            (byte) 0xEE, // out dx, al
            (byte) 0xFA, // cli
            (byte) 0xF4, // hlt
            (byte) 0xEB, (byte) 0xFC, // jmp back to cli
    };

    /**
     * A guest whose progress is visible from the host: prints "OK\n", then prints one tick
     * {@code <a>}, {@code <b>} ... {@code <z>}, {@code <a>} ... on COM1 each time bit 27 of the TSC
     * flips (every 2^27 cycles, ~20 ticks/s: the host's speed at running guest loops varies too
     * much under PVM to count iterations), incrementing the 32-bit counter at guest-physical
     * {@link #COUNTER_GPA} while it waits. Consecutive ticks across a pause or a restore show that
     * the guest continued where it stopped; "OK" appears only at a cold boot.
     */
    static final byte[] TICKER = {
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03, // mov dx, 0x3f8
            (byte) 0xB0, 0x4F, (byte) 0xEE, (byte) 0xB0, 0x4B, (byte) 0xEE, (byte) 0xB0, 0x0A, (byte) 0xEE, // "OK\n"
            (byte) 0xB3, 0x61, // mov bl, 'a'
            0x0F, 0x31, 0x25, 0x00, 0x00, 0x00, 0x08, (byte) 0x89, (byte) 0xC7, // outer: rdtsc; and eax, 1<<27; mov edi, eax
            (byte) 0xFF, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, // wait: inc dword [0x300000]
            0x0F, 0x31, 0x25, 0x00, 0x00, 0x00, 0x08, 0x39, (byte) 0xF8, 0x74, (byte) 0xEE, // rdtsc; and; cmp eax, edi; je wait
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03, // mov dx, 0x3f8 (rdtsc clobbered edx)
            (byte) 0xB0, 0x3C, (byte) 0xEE, (byte) 0x88, (byte) 0xD8, (byte) 0xEE, (byte) 0xB0, 0x3E, (byte) 0xEE, // "<" bl ">"
            (byte) 0xFE, (byte) 0xC3, (byte) 0x80, (byte) 0xFB, 0x7B, 0x75, 0x02, (byte) 0xB3, 0x61, // bl = bl == 'z' ? 'a' : bl + 1
            (byte) 0xEB, (byte) 0xCD, // jmp outer
    };
    static final long COUNTER_GPA = 0x30_0000L;

    private TinyKernel() {}

    static byte[] bzImage() {
        return bzImage(PRINT_K_THEN_HALT);
    }

    static byte[] bzImage(byte[] code) {
        int setupSects = 4;
        int offset = (setupSects + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(offset + 0x200 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) setupSects);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb);
        b.put(0x201, (byte) 0x6a);
        b.putInt(0x202, 0x53726448); // "HdrS"
        b.putShort(0x206, (short) 0x020f);
        b.put(0x211, (byte) 0x01); // LOADED_HIGH
        b.putInt(0x22c, 0x7fff_ffff);
        b.putInt(0x230, 0x20_0000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) 0x03); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
        b.putInt(0x238, 2047);
        b.putLong(0x258, 0x100_0000L);
        b.putInt(0x260, 0x10000);
        b.put(offset + 0x200, code);
        return b.array();
    }
}
