package io.qingtian.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One struct kvm_cpuid_entry2: the registers CPUID returns for (function, index).
 *
 * @param flags KVM_CPUID_FLAG_* ({@link #FLAG_SIGNIFCANT_INDEX}: index matters for this function)
 */
public record CpuidEntry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {
    /** KVM_CPUID_FLAG_SIGNIFCANT_INDEX (sic, as spelled in the header). */
    public static final int FLAG_SIGNIFCANT_INDEX = 1;

    static final StructLayout LAYOUT = KvmLayouts.CPUID_ENTRY2;

    public CpuidEntry withEax(int v) {
        return new CpuidEntry(function, index, flags, v, ebx, ecx, edx);
    }

    public CpuidEntry withEbx(int v) {
        return new CpuidEntry(function, index, flags, eax, v, ecx, edx);
    }

    public CpuidEntry withEcx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, v, edx);
    }

    public CpuidEntry withEdx(int v) {
        return new CpuidEntry(function, index, flags, eax, ebx, ecx, v);
    }

    static CpuidEntry read(MemorySegment s) {
        return new CpuidEntry(s.get(JAVA_INT, 0), s.get(JAVA_INT, 4),
                s.get(JAVA_INT, 8), s.get(JAVA_INT, 12),
                s.get(JAVA_INT, 16), s.get(JAVA_INT, 20),
                s.get(JAVA_INT, 24));
    }

    void write(MemorySegment s) {
        s.fill((byte) 0);
        s.set(JAVA_INT, 0, function);
        s.set(JAVA_INT, 4, index);
        s.set(JAVA_INT, 8, flags);
        s.set(JAVA_INT, 12, eax);
        s.set(JAVA_INT, 16, ebx);
        s.set(JAVA_INT, 20, ecx);
        s.set(JAVA_INT, 24, edx);
    }

    @Override
    public String toString() {
        return String.format("cpuid(0x%x,%d) eax=%08x ebx=%08x ecx=%08x edx=%08x", function, index, eax, ebx, ecx, edx);
    }
}
