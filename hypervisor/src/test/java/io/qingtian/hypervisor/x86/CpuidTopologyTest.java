package io.qingtian.hypervisor.x86;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.kvm.CpuidEntry;
import java.util.List;
import org.junit.jupiter.api.Test;

class CpuidTopologyTest {
    /** A small "supported" table as an AMD host's KVM reports it (vendor AuthenticAMD, max basic leaf 0x10). */
    static final List<CpuidEntry> AMD = List.of(
            new CpuidEntry(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
            new CpuidEntry(1, 0, 0, 0x00a00f11, 0x00000800, 0x7ed8320b, 0x178bfbff),
            new CpuidEntry(0xb, 0, 1, 1, 2, 0x100, 7),
            new CpuidEntry(0x4000_0000, 0, 0, 0x4000_0001, 0, 0, 0),
            new CpuidEntry(0x8000_0001, 0, 0, 0, 0, 0x0, 0),
            new CpuidEntry(0x8000_0008, 0, 0, 0x3030, 0, 0x7003, 0),
            new CpuidEntry(0x8000_001e, 0, 0, 9, 0x109, 0, 0));

    static CpuidEntry find(List<CpuidEntry> t, int fn, int index) {
        return t.stream().filter(e -> e.function() == fn && e.index() == index).findFirst().orElseThrow();
    }

    @Test
    void leafOneCarriesTheApicIdAndCount() {
        List<CpuidEntry> t = CpuidTopology.forVcpu(AMD, 2, 3);
        CpuidEntry l1 = find(t, 1, 0);
        assertThat(l1.ebx() >>> 24).isEqualTo(2);
        assertThat((l1.ebx() >>> 16) & 0xff).isEqualTo(3);
        assertThat(l1.ebx() & 0xffff).as("CLFLUSH size kept").isEqualTo(0x0800);
        assertThat(l1.ecx() & (1 << 31)).as("hypervisor bit").isNotZero();
        assertThat(l1.edx() & (1 << 28)).as("HTT").isNotZero();
    }

    @Test
    void extendedTopologyDescribesOneThreadPerCoreAndNCores() {
        List<CpuidEntry> t = CpuidTopology.forVcpu(AMD, 1, 3);
        assertThat(t.stream().filter(e -> e.function() == 0xb)).hasSize(3);
        assertThat(find(t, 0xb, 0)).isEqualTo(new CpuidEntry(0xb, 0, 1, 0, 1, 0x100, 1));
        assertThat(find(t, 0xb, 1)).isEqualTo(new CpuidEntry(0xb, 1, 1, 2, 3, 0x201, 1));
        assertThat(find(t, 0xb, 2).ecx() >>> 8 & 0xff).as("invalid level ends the list").isZero();
        assertThat(t.stream().noneMatch(e -> e.function() == 0x1f)).as("0x1f only when the max basic leaf has it").isTrue();
    }

    @Test
    void hypervisorLeafHasTheKvmSignature() {
        CpuidEntry h = find(CpuidTopology.forVcpu(AMD, 0, 1), 0x4000_0000, 0);
        byte[] sig = new byte[12];
        java.nio.ByteBuffer.wrap(sig).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(h.ebx()).putInt(h.ecx()).putInt(h.edx());
        assertThat(new String(sig, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("KVMKVMKVM\0\0\0");
    }

    @Test
    void amdCoreCountLeavesFollowTheVcpuCount() {
        List<CpuidEntry> t = CpuidTopology.forVcpu(AMD, 1, 4);
        assertThat(find(t, 0x8000_0008, 0).ecx() & 0xff).isEqualTo(3);
        assertThat((find(t, 0x8000_0008, 0).ecx() >>> 12) & 0xf).isEqualTo(2);
        assertThat(find(t, 0x8000_001e, 0).eax()).isEqualTo(1);
        assertThat(find(t, 0x8000_0001, 0).ecx() & 2).as("CmpLegacy").isEqualTo(2);
    }

    @Test
    void xsaveLeafDropsAvxStateWhenTheCpuHasNoAvx() {
        List<CpuidEntry> noAvx = new java.util.ArrayList<>(AMD);
        noAvx.set(1, AMD.get(1).withEcx(AMD.get(1).ecx() & ~(1 << 28))); // a CPU model without AVX
        noAvx.add(new CpuidEntry(0xd, 0, 1, 0x7, 0x240, 0x340, 0));
        noAvx.add(new CpuidEntry(0xd, 2, 1, 0x100, 0x240, 0, 0));
        CpuidEntry d0 = find(CpuidTopology.forVcpu(noAvx, 0, 1), 0xd, 0);
        assertThat(d0.eax()).isEqualTo(0x3);
        assertThat(d0.ecx()).isEqualTo(576);

        List<CpuidEntry> withAvx = new java.util.ArrayList<>(noAvx);
        withAvx.set(1, AMD.get(1).withEcx(AMD.get(1).ecx() | (1 << 28)));
        assertThat(find(CpuidTopology.forVcpu(withAvx, 0, 1), 0xd, 0)).isEqualTo(new CpuidEntry(0xd, 0, 1, 0x7, 0x240, 0x340, 0));
    }

    @Test
    void coreIdBitsIsCeilLog2() {
        assertThat(CpuidTopology.coreIdBits(1)).isZero();
        assertThat(CpuidTopology.coreIdBits(2)).isEqualTo(1);
        assertThat(CpuidTopology.coreIdBits(3)).isEqualTo(2);
        assertThat(CpuidTopology.coreIdBits(4)).isEqualTo(2);
        assertThat(CpuidTopology.coreIdBits(5)).isEqualTo(3);
    }

    @Test
    void gdtEntriesMatchTheBootProtocolDescriptors() {
        assertThat(Gdt.entry(Gdt.CODE64, 0, 0xfffff)).isEqualTo(0x00af_9b00_0000_ffffL);
        assertThat(Gdt.entry(Gdt.DATA, 0, 0xfffff)).isEqualTo(0x00cf_9300_0000_ffffL);
        assertThat(Gdt.entry(Gdt.TSS_G, 0, 0xfffff)).isEqualTo(0x008f_8b00_0000_ffffL);
        assertThat(Gdt.limit(Gdt.entry(Gdt.DATA, 0, 0xfffff))).isEqualTo(0xffff_ffff);
        assertThat(Gdt.base(Gdt.entry(Gdt.TSS, 0x1234_5678L, 0x67))).isEqualTo(0x1234_5678L);
    }
}
