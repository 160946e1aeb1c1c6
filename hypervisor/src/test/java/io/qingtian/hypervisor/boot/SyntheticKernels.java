package io.qingtian.hypervisor.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Kernel images built in the test: the fields the loader reads, nothing else. */
public final class SyntheticKernels {
    static final int SETUP_SECTS = 4;
    public static final long PREF_ADDRESS = 0x100_0000L;
    static final long INIT_SIZE = 0x80_0000L;

    private SyntheticKernels() {}

    /** A bzImage: boot sector + 4 setup sectors, then {@code payload} bytes of protected-mode kernel. */
    public static ByteBuffer bzImage(int version, int loadflags, int xloadflags, int payload) {
        int offset = (SETUP_SECTS + 1) * 512;
        ByteBuffer b = ByteBuffer.allocate(offset + payload).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) SETUP_SECTS);
        b.putShort(0x1fe, (short) 0xaa55);
        b.put(0x200, (byte) 0xeb); // jmp short
        b.put(0x201, (byte) 0x6a); // header ends at 0x202 + 0x6a = 0x26c
        b.putInt(0x202, 0x53726448); // "HdrS"
        b.putShort(0x206, (short) version);
        b.put(0x211, (byte) loadflags);
        b.putInt(0x22c, 0x7fff_ffff); // initrd_addr_max
        b.putInt(0x230, 0x20_0000); // kernel_alignment
        b.put(0x234, (byte) 1); // relocatable_kernel
        b.putShort(0x236, (short) xloadflags);
        b.putInt(0x238, 2047); // cmdline_size
        b.putLong(0x258, PREF_ADDRESS);
        b.putInt(0x260, (int) INIT_SIZE);
        for (int i = offset; i < offset + payload; i++) {
            b.put(i, (byte) (i * 7));
        }
        return b;
    }

    /**
     * A bzImage whose 64-bit entry (load address + 0x200) runs {@code code}, with a small
     * init_size so a 32 MiB VM can hold it.
     */
    public static byte[] bzImageRunning(byte[] code) {
        ByteBuffer b = bzImage(0x020f, 0x01, 0x03, 0x200 + code.length);
        b.putInt(0x260, 0x10000); // init_size
        b.put((SETUP_SECTS + 1) * 512 + 0x200, code);
        return b.array();
    }

    public static ByteBuffer goodBzImage() {
        return bzImage(0x020f, 0x01, 0x03, 0x3000);
    }

    /**
     * A minimal ELF64 x86_64 executable: one PT_LOAD of {@code code} at physical {@code paddr}
     * (memsz = filesz + 0x1000 of bss) and one PT_NOTE with Xen's PHYS32_ENTRY = {@code entry}
     * (an 8-byte descriptor, as Linux emits it), unless {@code withNote} is false.
     */
    public static ByteBuffer elf(long paddr, byte[] code, long entry, boolean withNote) {
        int phoff = 64;
        int phnum = withNote ? 2 : 1;
        int noteOff = phoff + 56 * phnum;
        int noteLen = 12 + 4 + 8;
        int codeOff = 0x200;
        ByteBuffer b = ByteBuffer.allocate(codeOff + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) 0x7f).put(1, (byte) 'E').put(2, (byte) 'L').put(3, (byte) 'F');
        b.put(4, (byte) 2).put(5, (byte) 1).put(6, (byte) 1);
        b.putShort(16, (short) 2); // ET_EXEC
        b.putShort(18, (short) 62); // EM_X86_64
        b.putInt(20, 1);
        b.putLong(24, 0xffff_ffff_8100_0000L);
        b.putLong(32, phoff);
        b.putShort(52, (short) 64);
        b.putShort(54, (short) 56);
        b.putShort(56, (short) phnum);
        // PT_LOAD
        b.putInt(phoff, 1);
        b.putLong(phoff + 8, codeOff);
        b.putLong(phoff + 16, 0xffff_ffff_8100_0000L);
        b.putLong(phoff + 24, paddr);
        b.putLong(phoff + 32, code.length);
        b.putLong(phoff + 40, code.length + 0x1000L);
        if (withNote) {
            int p = phoff + 56;
            b.putInt(p, 4); // PT_NOTE
            b.putLong(p + 8, noteOff);
            b.putLong(p + 32, noteLen);
            b.putLong(p + 40, noteLen);
            b.putInt(noteOff, 4).putInt(noteOff + 4, 8).putInt(noteOff + 8, 18);
            b.put(noteOff + 12, (byte) 'X').put(noteOff + 13, (byte) 'e').put(noteOff + 14, (byte) 'n');
            b.putLong(noteOff + 16, entry);
        }
        b.put(codeOff, code);
        return b;
    }
}
