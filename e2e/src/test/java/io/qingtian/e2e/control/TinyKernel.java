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

    private TinyKernel() {}

    static byte[] bzImage() {
        int setupSects = 4;
        int offset = (setupSects + 1) * 512;
        byte[] code = PRINT_K_THEN_HALT;
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
