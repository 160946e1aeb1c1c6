package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** struct kvm_sregs (segment, descriptor-table and control registers) as a mutable view. */
public final class KvmSregs {
    private static final long GDT = KvmLayouts.offset(KvmLayouts.SREGS, "gdt");
    private static final long IDT = KvmLayouts.offset(KvmLayouts.SREGS, "idt");
    private static final long CR0 = KvmLayouts.offset(KvmLayouts.SREGS, "cr0");
    private static final long CR2 = KvmLayouts.offset(KvmLayouts.SREGS, "cr2");
    private static final long CR3 = KvmLayouts.offset(KvmLayouts.SREGS, "cr3");
    private static final long CR4 = KvmLayouts.offset(KvmLayouts.SREGS, "cr4");
    private static final long CR8 = KvmLayouts.offset(KvmLayouts.SREGS, "cr8");
    private static final long EFER = KvmLayouts.offset(KvmLayouts.SREGS, "efer");
    private static final long APIC_BASE = KvmLayouts.offset(KvmLayouts.SREGS, "apic_base");
    private static final long SEG = KvmLayouts.SEGMENT.byteSize();

    private final MemorySegment s;

    public KvmSregs(MemorySegment segment) {
        if (segment.byteSize() < KvmLayouts.SREGS.byteSize()) {
            throw new IllegalArgumentException("segment too small for kvm_sregs");
        }
        this.s = segment;
    }

    public static KvmSregs allocate(Arena arena) {
        return new KvmSregs(arena.allocate(KvmLayouts.SREGS));
    }

    public MemorySegment segment() {
        return s;
    }

    public KvmSegment cs() { return seg(0); }
    public KvmSegment ds() { return seg(1); }
    public KvmSegment es() { return seg(2); }
    public KvmSegment fs() { return seg(3); }
    public KvmSegment gs() { return seg(4); }
    public KvmSegment ss() { return seg(5); }
    public KvmSegment tr() { return seg(6); }
    public KvmSegment ldt() { return seg(7); }

    private KvmSegment seg(int i) {
        return new KvmSegment(s.asSlice(i * SEG, SEG));
    }

    public long gdtBase() { return s.get(JAVA_LONG, GDT); }
    public int gdtLimit() { return Short.toUnsignedInt(s.get(JAVA_SHORT, GDT + 8)); }
    public long idtBase() { return s.get(JAVA_LONG, IDT); }
    public int idtLimit() { return Short.toUnsignedInt(s.get(JAVA_SHORT, IDT + 8)); }

    public KvmSregs gdt(long base, int limit) {
        s.set(JAVA_LONG, GDT, base);
        s.set(JAVA_SHORT, GDT + 8, (short) limit);
        return this;
    }

    public KvmSregs idt(long base, int limit) {
        s.set(JAVA_LONG, IDT, base);
        s.set(JAVA_SHORT, IDT + 8, (short) limit);
        return this;
    }

    public long cr0() { return s.get(JAVA_LONG, CR0); }
    public long cr2() { return s.get(JAVA_LONG, CR2); }
    public long cr3() { return s.get(JAVA_LONG, CR3); }
    public long cr4() { return s.get(JAVA_LONG, CR4); }
    public long cr8() { return s.get(JAVA_LONG, CR8); }
    public long efer() { return s.get(JAVA_LONG, EFER); }
    public long apicBase() { return s.get(JAVA_LONG, APIC_BASE); }

    public KvmSregs cr0(long v) { s.set(JAVA_LONG, CR0, v); return this; }
    public KvmSregs cr3(long v) { s.set(JAVA_LONG, CR3, v); return this; }
    public KvmSregs cr4(long v) { s.set(JAVA_LONG, CR4, v); return this; }
    public KvmSregs cr8(long v) { s.set(JAVA_LONG, CR8, v); return this; }
    public KvmSregs efer(long v) { s.set(JAVA_LONG, EFER, v); return this; }
    public KvmSregs apicBase(long v) { s.set(JAVA_LONG, APIC_BASE, v); return this; }

    @Override
    public String toString() {
        return String.format("cr0=%x cr3=%x cr4=%x efer=%x cs={%s} gdt=%x/%x", cr0(), cr3(), cr4(), efer(), cs(),
                gdtBase(), gdtLimit());
    }
}
