package io.qingtian.hypervisor.x86;

import io.qingtian.kvm.CpuidEntry;
import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID table of one vCPU: KVM_GET_SUPPORTED_CPUID, patched so the guest sees one
 * package of {@code vcpuCount} cores with one thread each, this vCPU's APIC ID, and the KVM
 * hypervisor leaves. Leaf numbers and fields are from the Intel SDM vol. 2A "CPUID" and the
 * AMD APM vol. 3 appendix E; the choices follow Cloud Hypervisor's update_cpuid_topology.
 *
 * <p>APIC IDs are the vCPU indices (0..n-1): with one thread per core the SMT field of the
 * x2APIC ID is zero bits wide and the core field is {@code ceil(log2 n)} bits.
 */
public final class CpuidTopology {
    static final int LEAF_VENDOR = 0x0;
    static final int LEAF_FEATURES = 0x1;
    static final int LEAF_CACHE_PARAMS = 0x4;
    static final int LEAF_EXT_TOPOLOGY = 0xb;
    static final int LEAF_XSAVE = 0xd;
    /** CPUID.1:ECX bit 28: AVX. */
    static final int ECX_AVX = 1 << 28;
    /** XCR0 bit 2: the AVX (YMM upper halves) state component. */
    static final int XCR0_YMM = 1 << 2;
    /** Legacy FXSAVE area plus the XSAVE header: the size with only x87 and SSE state. */
    static final int XSAVE_LEGACY_SIZE = 512 + 64;
    static final int LEAF_V2_EXT_TOPOLOGY = 0x1f;
    static final int LEAF_HYPERVISOR = 0x4000_0000;
    static final int LEAF_KVM_FEATURES = 0x4000_0001;
    static final int LEAF_EXT_FEATURES = 0x8000_0001;
    static final int LEAF_ADDR_SIZES = 0x8000_0008;
    static final int LEAF_AMD_EXT_APIC_ID = 0x8000_001e;

    /** CPUID.1:ECX bit 31: "running on a hypervisor". */
    static final int ECX_HYPERVISOR = 1 << 31;
    /** CPUID.1:EDX bit 28: HTT (the EBX[23:16] logical-processor count is valid). */
    static final int EDX_HTT = 1 << 28;
    /** CPUID.80000001h:ECX bit 1: CmpLegacy (AMD: multi-core package). */
    static final int ECX_CMP_LEGACY = 1 << 1;
    /** "KVMKVMKVM\0\0\0" as EBX, ECX, EDX. */
    static final int KVM_SIGNATURE_EBX = 0x4b4d564b;
    static final int KVM_SIGNATURE_ECX = 0x564b4d56;
    static final int KVM_SIGNATURE_EDX = 0x4d;

    /** Level types in leaf 0xB/0x1F ECX[15:8]. */
    static final int LEVEL_SMT = 1;
    static final int LEVEL_CORE = 2;

    private CpuidTopology() {}

    /** Number of bits of the APIC ID that number cores: ceil(log2 n). */
    public static int coreIdBits(int vcpuCount) {
        return vcpuCount <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(vcpuCount - 1);
    }

    /** APIC ID of vCPU {@code index}. */
    public static int apicId(int index) {
        return index;
    }

    public static boolean isAmd(List<CpuidEntry> supported) {
        for (CpuidEntry e : supported) {
            if (e.function() == LEAF_VENDOR) {
                // "AuthenticAMD": EBX "Auth", EDX "enti", ECX "cAMD"
                return e.ebx() == 0x68747541 && e.edx() == 0x69746e65 && e.ecx() == 0x444d4163;
            }
        }
        return false;
    }

    /** The table for vCPU {@code index} of {@code vcpuCount}. */
    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int index, int vcpuCount) {
        if (index < 0 || index >= vcpuCount) {
            throw new IllegalArgumentException("vCPU index " + index + " of " + vcpuCount);
        }
        int apicId = apicId(index);
        int coreBits = coreIdBits(vcpuCount);
        int maxBasic = 0;
        for (CpuidEntry e : supported) {
            if (e.function() == LEAF_VENDOR) {
                maxBasic = e.eax();
            }
        }
        boolean amd = isAmd(supported);
        boolean avx = false;
        for (CpuidEntry e : supported) {
            if (e.function() == LEAF_FEATURES) {
                avx = (e.ecx() & ECX_AVX) != 0;
            }
        }
        boolean hasHypervisorLeaf = false;
        List<CpuidEntry> out = new ArrayList<>(supported.size() + 8);
        for (CpuidEntry e : supported) {
            switch (e.function()) {
                case LEAF_FEATURES -> {
                    int ebx = (e.ebx() & 0x0000_ffff) | (apicId << 24) | ((vcpuCount & 0xff) << 16);
                    out.add(e.withEbx(ebx).withEcx(e.ecx() | ECX_HYPERVISOR).withEdx(e.edx() | EDX_HTT));
                }
                case LEAF_CACHE_PARAMS -> {
                    // EAX[31:26]: addressable core IDs in the package - 1; EAX[25:14]: logical
                    // processors sharing this cache - 1 (only the L3, EAX[7:5] == 3, is shared).
                    int level = (e.eax() >>> 5) & 0x7;
                    int sharing = level >= 3 ? (1 << coreBits) - 1 : 0;
                    int eax = (e.eax() & 0x3fff) | (sharing << 14) | (((1 << coreBits) - 1) << 26);
                    out.add(e.withEax(eax));
                }
                case LEAF_XSAVE -> out.add(e.index() == 0 && !avx ? xsaveWithoutAvx(e, supported) : e);
                case LEAF_EXT_TOPOLOGY, LEAF_V2_EXT_TOPOLOGY -> {
                    // replaced below
                }
                case LEAF_HYPERVISOR -> {
                    hasHypervisorLeaf = true;
                    out.add(new CpuidEntry(LEAF_HYPERVISOR, 0, 0, Math.max(e.eax(), LEAF_KVM_FEATURES),
                            KVM_SIGNATURE_EBX, KVM_SIGNATURE_ECX, KVM_SIGNATURE_EDX));
                }
                case LEAF_EXT_FEATURES -> out.add(amd && vcpuCount > 1 ? e.withEcx(e.ecx() | ECX_CMP_LEGACY) : e);
                case LEAF_ADDR_SIZES -> out.add(amd
                        ? e.withEcx((e.ecx() & ~0xf0ff) | (coreBits << 12) | ((vcpuCount - 1) & 0xff))
                        : e);
                case LEAF_AMD_EXT_APIC_ID -> out.add(e.withEax(apicId).withEbx(apicId & 0xff).withEcx(0).withEdx(0));
                default -> out.add(e);
            }
        }
        if (!hasHypervisorLeaf) {
            out.add(new CpuidEntry(LEAF_HYPERVISOR, 0, 0, LEAF_KVM_FEATURES, KVM_SIGNATURE_EBX, KVM_SIGNATURE_ECX,
                    KVM_SIGNATURE_EDX));
        }
        if (maxBasic >= LEAF_EXT_TOPOLOGY) {
            out.addAll(extendedTopology(LEAF_EXT_TOPOLOGY, apicId, coreBits, vcpuCount));
        }
        if (maxBasic >= LEAF_V2_EXT_TOPOLOGY) {
            out.addAll(extendedTopology(LEAF_V2_EXT_TOPOLOGY, apicId, coreBits, vcpuCount));
        }
        return List.copyOf(out);
    }

    /**
     * Keeps leaf 0xD consistent with leaf 1: a CPU model without AVX (QEMU TCG's, so the lab's
     * L1) may still list the AVX state in 0xD, and Linux then warns "XSAVE consistency
     * problem" and falls back. Drop the component and shrink the maximum size (ECX) to what the
     * remaining components need; EBX follows the guest's XCR0 at run time.
     */
    static CpuidEntry xsaveWithoutAvx(CpuidEntry sub0, List<CpuidEntry> supported) {
        int components = sub0.eax() & ~XCR0_YMM;
        int max = XSAVE_LEGACY_SIZE;
        for (CpuidEntry e : supported) {
            if (e.function() == LEAF_XSAVE && e.index() >= 2 && e.index() < 32 && (components & (1 << e.index())) != 0) {
                max = Math.max(max, e.ebx() + e.eax()); // offset + size of the component
            }
        }
        return sub0.withEax(components).withEcx(max);
    }

    /**
     * Leaf 0xB / 0x1F: sub-leaf 0 the SMT level (1 thread), sub-leaf 1 the core level
     * ({@code n} logical processors, shift {@code coreBits}), sub-leaf 2 the invalid level
     * that ends the enumeration. EDX is the x2APIC ID in every sub-leaf.
     */
    static List<CpuidEntry> extendedTopology(int leaf, int apicId, int coreBits, int vcpuCount) {
        int f = CpuidEntry.FLAG_SIGNIFCANT_INDEX;
        return List.of(
                new CpuidEntry(leaf, 0, f, 0, 1, (LEVEL_SMT << 8), apicId),
                new CpuidEntry(leaf, 1, f, coreBits, vcpuCount, (LEVEL_CORE << 8) | 1, apicId),
                new CpuidEntry(leaf, 2, f, 0, 0, 2, apicId));
    }
}
