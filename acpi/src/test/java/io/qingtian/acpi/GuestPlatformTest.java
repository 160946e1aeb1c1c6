package io.qingtian.acpi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The tables as a function of the guest platform: what the card measures and the hypervisor places. */
class GuestPlatformTest {
    static final long MIB = 1L << 20;
    static final long GIB = 1L << 30;

    static List<byte[]> bytes(AcpiBlob b) {
        List<byte[]> out = new ArrayList<>();
        b.chunks().forEach(c -> out.add(c.bytes()));
        return out;
    }

    @Property(tries = 40)
    void sameConfigurationGivesTheSameBytesAndDigest(@ForAll @IntRange(min = 1, max = 254) int cpus,
                                                     @ForAll @IntRange(min = 16, max = 65536) int memMib) {
        AcpiBlob a = GuestPlatform.forGuest(cpus, memMib * MIB).tables();
        AcpiBlob b = GuestPlatform.forGuest(cpus, memMib * MIB).tables();
        assertThat(bytes(a)).usingElementComparator(Arrays::compare).isEqualTo(bytes(b));
        assertThat(a.chunks()).extracting(AcpiBlob.Chunk::gpa).isEqualTo(b.chunks().stream().map(AcpiBlob.Chunk::gpa).toList());
        assertThat(AcpiMeasurement.of(a).pcrValue()).isEqualTo(AcpiMeasurement.of(b).pcrValue());
    }

    @Test
    void anotherVcpuCountChangesMadtDsdtAndTheDigest() {
        AcpiMeasurement one = AcpiMeasurement.of(GuestPlatform.forGuest(1, 256 * MIB).tables());
        AcpiMeasurement two = AcpiMeasurement.of(GuestPlatform.forGuest(2, 256 * MIB).tables());
        assertThat(two.pcrValue()).isNotEqualTo(one.pcrValue());
        assertThat(changed(one, two)).contains("APIC", "DSDT");
    }

    @Test
    void memoryAboveTheHoleMovesThe64BitWindowAndChangesTheDsdt() {
        AcpiMeasurement small = AcpiMeasurement.of(GuestPlatform.forGuest(2, 2 * GIB).tables());
        AcpiMeasurement big = AcpiMeasurement.of(GuestPlatform.forGuest(2, 8 * GIB).tables());
        assertThat(big.pcrValue()).isNotEqualTo(small.pcrValue());
        assertThat(changed(small, big)).containsExactly("DSDT"); // _CRS of \_SB_.PCI0 (the 64-bit window)
    }

    @Test
    void memoryBelowTheHoleDoesNotChangeTheTables() {
        // RAM up to 3 GiB lies below the PCI hole: nothing the tables describe depends on it
        // (the e820 map, not ACPI, tells the guest its RAM). Documented, so verifiers know.
        assertThat(AcpiMeasurement.of(GuestPlatform.forGuest(1, 256 * MIB).tables()).pcrValue())
                .isEqualTo(AcpiMeasurement.of(GuestPlatform.forGuest(1, 3 * GIB).tables()).pcrValue());
    }

    @Test
    void everyTableIsMeasuredInPlacementOrderWithItsAddress() {
        AcpiBlob blob = GuestPlatform.forGuest(2, 256 * MIB).tables();
        AcpiMeasurement m = AcpiMeasurement.of(blob);
        assertThat(m.tables()).extracting(AcpiMeasurement.Table::signature)
                .containsExactly("RSDP", "RSDT", "XSDT", "FACP", "FACS", "APIC", "DSDT", "MCFG");
        assertThat(m.tables().get(0).gpa()).isEqualTo(GuestPlatform.TABLE_BASE);
        assertThat(blob.endAddress()).isLessThanOrEqualTo(GuestPlatform.TABLE_END);
    }

    @Test
    void pcrValueIsTheTpmExtendChain() throws Exception {
        AcpiMeasurement m = AcpiMeasurement.of(GuestPlatform.forGuest(1, 64 * MIB).tables());
        byte[] pcr = new byte[48];
        for (AcpiMeasurement.Table t : m.tables()) {
            var md = java.security.MessageDigest.getInstance("SHA-384");
            md.update(pcr);
            pcr = md.digest(t.sha384());
        }
        assertThat(m.pcrValue()).isEqualTo(pcr);
        assertThat(m.pcrValueHex()).hasSize(96);
    }

    @Test
    void tooManyCpusForTheBiosAreaIsRefused() {
        assertThatThrownBy(() -> GuestPlatform.forGuest(4096, 256 * MIB).tables())
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> GuestPlatform.forGuest(0, 256 * MIB)).isInstanceOf(IllegalArgumentException.class);
    }

    static List<String> changed(AcpiMeasurement a, AcpiMeasurement b) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.tables().size(); i++) {
            if (!Arrays.equals(a.tables().get(i).sha384(), b.tables().get(i).sha384())) {
                out.add(a.tables().get(i).signature());
            }
        }
        return out;
    }
}
