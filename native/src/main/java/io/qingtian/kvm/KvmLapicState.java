package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * struct kvm_lapic_state: the local APIC's 1 KiB register page, registers at their MMIO
 * offsets (Intel SDM vol. 3, table 11-1 "Local APIC Register Address Map").
 */
public final class KvmLapicState {
    public static final int APIC_ID = 0x20;
    public static final int APIC_SPIV = 0xf0;
    public static final int APIC_LVT0 = 0x350;
    public static final int APIC_LVT1 = 0x360;

    private final MemorySegment s;

    public KvmLapicState(MemorySegment segment) {
        if (segment.byteSize() < KvmLayouts.LAPIC_STATE.byteSize()) {
            throw new IllegalArgumentException("segment too small for kvm_lapic_state");
        }
        this.s = segment;
    }

    public static KvmLapicState allocate(Arena arena) {
        return new KvmLapicState(arena.allocate(KvmLayouts.LAPIC_STATE));
    }

    public MemorySegment segment() {
        return s;
    }

    /** The 32-bit register at {@code offset} (a multiple of 16). */
    public int reg(int offset) {
        return s.get(JAVA_INT, checked(offset));
    }

    public KvmLapicState reg(int offset, int value) {
        s.set(JAVA_INT, checked(offset), value);
        return this;
    }

    private static long checked(int offset) {
        if (offset < 0 || offset > 1024 - 4 || (offset & 0xf) != 0) {
            throw new IllegalArgumentException("bad APIC register offset 0x" + Integer.toHexString(offset));
        }
        return offset;
    }
}
