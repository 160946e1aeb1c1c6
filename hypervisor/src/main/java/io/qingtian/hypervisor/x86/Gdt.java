package io.qingtian.hypervisor.x86;

import io.qingtian.kvm.KvmSegment;

/**
 * Segment descriptors (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors") for the boot GDT, and
 * the matching KVM segment-register state. KVM needs both to agree: the guest may reload a
 * selector from the GDT in guest memory at any time.
 */
public final class Gdt {
    /** Access/flags word (flags nibble << 12 | access byte): 64-bit code, present, DPL 0, execute/read, accessed; L=1, G=1. */
    public static final int CODE64 = 0xa09b;
    /** 32-bit flat code: D=1, G=1, execute/read, accessed. */
    public static final int CODE32 = 0xc09b;
    /** Flat data: read/write, accessed; D/B=1, G=1. */
    public static final int DATA = 0xc093;
    /** 32/64-bit busy TSS (type 0xb), byte granular. */
    public static final int TSS = 0x008b;
    /** TSS as Firecracker's long-mode GDT has it (G=1). */
    public static final int TSS_G = 0x808b;

    public static final int CODE_SELECTOR = 0x08;
    public static final int DATA_SELECTOR = 0x10;
    public static final int TSS_SELECTOR = 0x18;

    private Gdt() {}

    /** A descriptor from its flags word, base and 20-bit limit. */
    public static long entry(int flags, long base, long limit) {
        return ((base & 0xff00_0000L) << (56 - 24))
                | (((long) flags & 0x0000_f0ffL) << 40)
                | ((limit & 0x000f_0000L) << (48 - 16))
                | ((base & 0x00ff_ffffL) << 16)
                | (limit & 0x0000_ffffL);
    }

    static long base(long e) {
        return ((e >>> 32) & 0xff00_0000L) | ((e >>> 16) & 0x00ff_0000L) | ((e >>> 16) & 0x0000_ffffL);
    }

    static int limit(long e) {
        int limit = (int) (((e >>> 32) & 0x000f_0000L) | (e & 0xffffL));
        return g(e) ? (limit << 12) | 0xfff : limit;
    }

    static boolean g(long e) {
        return ((e >>> 55) & 1) != 0;
    }

    /** Loads {@code seg} with what the CPU would cache when loading {@code selector} -> {@code e}. */
    public static void load(KvmSegment seg, long e, int selector) {
        seg.set(base(e), limit(e), selector, (int) ((e >>> 40) & 0xf), ((e >>> 47) & 1) != 0,
                (int) ((e >>> 45) & 3), ((e >>> 54) & 1) != 0, ((e >>> 44) & 1) != 0, ((e >>> 53) & 1) != 0, g(e));
    }
}
