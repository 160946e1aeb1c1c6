package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** struct kvm_fpu as a mutable view; the boot path only sets the control words. */
public final class KvmFpu {
    private static final long FCW = KvmLayouts.offset(KvmLayouts.FPU, "fcw");
    private static final long MXCSR = KvmLayouts.offset(KvmLayouts.FPU, "mxcsr");

    private final MemorySegment s;

    public KvmFpu(MemorySegment segment) {
        if (segment.byteSize() < KvmLayouts.FPU.byteSize()) {
            throw new IllegalArgumentException("segment too small for kvm_fpu");
        }
        this.s = segment;
    }

    public static KvmFpu allocate(Arena arena) {
        return new KvmFpu(arena.allocate(KvmLayouts.FPU));
    }

    public MemorySegment segment() {
        return s;
    }

    public int fcw() { return Short.toUnsignedInt(s.get(JAVA_SHORT, FCW)); }
    public int mxcsr() { return s.get(JAVA_INT, MXCSR); }
    public KvmFpu fcw(int v) { s.set(JAVA_SHORT, FCW, (short) v); return this; }
    public KvmFpu mxcsr(int v) { s.set(JAVA_INT, MXCSR, v); return this; }
}
