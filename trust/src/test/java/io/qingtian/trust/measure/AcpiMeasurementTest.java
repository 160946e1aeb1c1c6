package io.qingtian.trust.measure;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.acpi.AcpiBlob;
import io.qingtian.acpi.AcpiMeasurement;
import io.qingtian.acpi.GuestPlatform;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Sha384;
import java.util.List;
import org.junit.jupiter.api.Test;

/** PCR4: the card's per-table measurement of the ACPI tables and the value the hypervisor checks. */
class AcpiMeasurementTest {
    static final long MIB = 1L << 20;

    @Test
    void oneEventPerTableInPlacementOrderNamedBySignature() {
        AcpiBlob tables = GuestPlatform.forGuest(2, 256 * MIB).tables();
        List<MeasurementEvent> events = new MeasuredBoot().acpiTables(tables).eventLog().events();
        assertThat(events).extracting(e -> e.description().substring(0, 4))
                .containsExactly("RSDP", "RSDT", "XSDT", "FACP", "FACS", "APIC", "DSDT", "MCFG");
        for (int i = 0; i < events.size(); i++) {
            assertThat(events.get(i).pcr()).isEqualTo(Pcr.ACPI_TABLES);
            assertThat(events.get(i).type()).isEqualTo(MeasurementEvent.Type.ACPI_TABLE);
            assertThat(events.get(i).digest()).isEqualTo(Sha384.of(tables.chunks().get(i).bytes()));
        }
    }

    @Test
    void pcr4IsTheValueTheHypervisorChecks() {
        AcpiBlob tables = GuestPlatform.forGuest(3, 1024 * MIB).tables();
        MeasuredBoot mb = new MeasuredBoot().acpiTables(tables);
        assertThat(mb.pcrs().value(Pcr.ACPI_TABLES)).isEqualTo(AcpiMeasurement.of(tables).pcrValue());
    }

    @Test
    void eventLogWithTablesReplaysThroughJson() throws TrustException {
        MeasuredBoot mb = new MeasuredBoot().cmdline("console=ttyS0").acpiTables(GuestPlatform.forGuest(1, 128 * MIB).tables());
        EventLog parsed = EventLog.parse("test", mb.eventLog().toJson());
        assertThat(parsed.replay().sameAs(mb.pcrs())).isTrue();
        assertThat(parsed.events()).isEqualTo(mb.eventLog().events());
    }

    @Test
    void sameInstanceShapeSamePcr4OtherShapeOtherPcr4() {
        byte[] a = new MeasuredBoot().acpiTables(GuestPlatform.forGuest(2, 512 * MIB).tables()).pcrs().value(Pcr.ACPI_TABLES);
        byte[] again = new MeasuredBoot().acpiTables(GuestPlatform.forGuest(2, 512 * MIB).tables()).pcrs().value(Pcr.ACPI_TABLES);
        byte[] moreCpus = new MeasuredBoot().acpiTables(GuestPlatform.forGuest(4, 512 * MIB).tables()).pcrs().value(Pcr.ACPI_TABLES);
        assertThat(again).isEqualTo(a);
        assertThat(moreCpus).isNotEqualTo(a);
    }
}
