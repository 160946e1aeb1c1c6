package io.qingtian.hypervisor.x86;

import io.qingtian.kvm.CpuidEntry;
import io.qingtian.kvm.KvmStateIoctls;
import io.qingtian.kvm.KvmVcpu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The vCPU's initial XCR0 (Intel SDM vol. 1 §13.3): every user state component that leaf 0xD
 * sub-leaf 0 offers the guest (EDX:EAX), set with KVM_SET_XCRS after KVM_SET_CPUID2.
 *
 * <p>Why: KVM derives CPUID.(EAX=0xD,ECX=0):EBX — "bytes needed for the components enabled in
 * XCR0" — from its own copy of the guest's XCR0, which it updates when the guest's XSETBV
 * traps. Linux's boot check compares that EBX with the size it computes for the components it
 * enabled and, on a difference, prints "XSAVE consistency problem" and falls back to FXSAVE.
 * Under an L1 whose nested SVM does not deliver the XSETBV intercept (QEMU TCG, our lab) KVM
 * never sees the guest's XSETBV, keeps XCR0 at its reset value (x87 only), reports EBX = 576,
 * and also loads XCR0 = x87 at every VM entry, silently disabling SSE/AVX state the guest
 * believes it enabled. Starting the vCPU with XCR0 = the offered components makes KVM's copy
 * equal what Linux enables (it enables all it is offered and knows), so EBX matches and the
 * state really is enabled; with a working intercept the guest's own XSETBV simply overrides it,
 * as it overrides whatever firmware left in XCR0. Firecracker and Cloud Hypervisor only carry
 * XCRS through snapshots; QEMU sets XCR0 from its CPU model at reset (x86_cpu_reset: the
 * supported components when XSAVE is exposed), which is what this does.
 */
public final class Xcr0 {
    /** CPUID.1:ECX bit 26: XSAVE. */
    static final int ECX_XSAVE = 1 << 26;
    /** XCR0 bit 0: x87 state, which XCR0 must always have. */
    static final long X87 = 1;
    /** KVM_CAP_XCRS. */
    public static final int KVM_CAP_XCRS = 56;

    private Xcr0() {}

    /**
     * The XCR0 for a vCPU with this CPUID table: the components of 0xD.0 EDX:EAX, or 0 when the
     * table offers no XSAVE (then XCR0 stays at its reset value).
     */
    public static long initial(List<CpuidEntry> cpuid) {
        boolean xsave = false;
        long components = 0;
        for (CpuidEntry e : cpuid) {
            if (e.function() == CpuidTopology.LEAF_FEATURES) {
                xsave = (e.ecx() & ECX_XSAVE) != 0;
            } else if (e.function() == CpuidTopology.LEAF_XSAVE && e.index() == 0) {
                components = (e.eax() & 0xffff_ffffL) | ((long) e.edx() << 32);
            }
        }
        return xsave && (components & X87) != 0 ? components : 0;
    }

    /** struct kvm_xcrs with one entry: XCR0 = {@code value}. */
    static byte[] xcrsBlob(long value) {
        ByteBuffer b = ByteBuffer.allocate(KvmStateIoctls.XCRS_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 1);      // nr_xcrs
        b.putInt(4, 0);      // flags
        b.putInt(8, 0);      // xcrs[0].xcr = XCR0
        b.putInt(12, 0);     // reserved
        b.putLong(16, value);
        return b.array();
    }

    /** Sets XCR0 on {@code vcpu} when the table offers XSAVE; call after {@code setCpuid2}. */
    public static void apply(KvmVcpu vcpu, List<CpuidEntry> cpuid) {
        long v = initial(cpuid);
        if (v != 0) {
            KvmStateIoctls.set(vcpu.fd(), KvmStateIoctls.KVM_SET_XCRS, KvmStateIoctls.XCRS_SIZE, xcrsBlob(v), "KVM_SET_XCRS");
        }
    }
}
