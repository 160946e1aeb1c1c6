package io.qingtian.hypervisor.x86;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.kvm.CpuidEntry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class Xcr0Test {
    static final int SIG = CpuidEntry.FLAG_SIGNIFCANT_INDEX;

    @Test
    void initialXcr0IsTheComponentsLeaf0xdOffers() {
        List<CpuidEntry> t = List.of(
                new CpuidEntry(1, 0, 0, 0, 0, Xcr0.ECX_XSAVE, 0),
                new CpuidEntry(0xd, 0, SIG, 0x2e7, 0x240, 0xa88, 0),   // x87 SSE AVX, AVX-512 (5-7), PKRU (9)
                new CpuidEntry(0xd, 1, SIG, 0xf, 0, 0, 0));
        assertThat(Xcr0.initial(t)).isEqualTo(0x2e7L);
    }

    @Test
    void withoutAvxOnlyX87AndSse() {
        // the lab's TCG CPU without AVX: CpuidTopology already dropped the YMM component
        List<CpuidEntry> supported = List.of(
                new CpuidEntry(0, 0, 0, 0xd, 0, 0, 0),
                new CpuidEntry(1, 0, 0, 0, 0, Xcr0.ECX_XSAVE, 0),
                new CpuidEntry(0xd, 0, SIG, 0x7, 0x240, 0x340, 0),
                new CpuidEntry(0xd, 2, SIG, 0x100, 0x240, 0, 0));
        assertThat(Xcr0.initial(CpuidTopology.forVcpu(supported, 0, 1))).isEqualTo(0x3L);
    }

    @Test
    void noXsaveNoXcr0() {
        assertThat(Xcr0.initial(List.of(new CpuidEntry(1, 0, 0, 0, 0, 0, 0), new CpuidEntry(0xd, 0, SIG, 7, 0, 0, 0)))).isZero();
        assertThat(Xcr0.initial(List.of(new CpuidEntry(1, 0, 0, 0, 0, Xcr0.ECX_XSAVE, 0)))).isZero();
    }

    @Test
    void xcrsBlobIsOneEntryForXcr0() {
        ByteBuffer b = ByteBuffer.wrap(Xcr0.xcrsBlob(0x7)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.capacity()).isEqualTo(392);
        assertThat(b.getInt(0)).isEqualTo(1);
        assertThat(b.getInt(8)).isZero();
        assertThat(b.getLong(16)).isEqualTo(7);
    }
}
