package io.qingtian.acpi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** Layout, pointers and checksums of the generated tables, read back as a guest would. */
class AcpiTablesTest {

    private static final AmlSource PM = PmBlock.S5;

    static long u(byte[] b, int off, int n) {
        long v = 0;
        for (int i = n - 1; i >= 0; i--) {
            v = (v << 8) | (b[off + i] & 0xFF);
        }
        return v;
    }

    static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i] & 0xFF;
        }
        return s & 0xFF;
    }

    static String sig(byte[] b) {
        return new String(b, 0, 4, StandardCharsets.US_ASCII);
    }

    /** Guest-physical memory as the guest sees it: the chunks placed at their addresses. */
    record Image(AcpiBlob blob) {
        byte[] tableAt(long gpa) {
            for (AcpiBlob.Chunk c : blob.chunks()) {
                if (c.gpa() == gpa) {
                    return c.bytes();
                }
            }
            throw new AssertionError("no table at 0x" + Long.toHexString(gpa));
        }
    }

    @Test
    void rsdpIsAtTheBiosAreaWithBothChecksums() {
        AcpiBlob blob = AcpiTables.build(AcpiConfig.defaults(2).withDsdtSources(List.of(PM)));
        assertThat(blob.rsdpAddress()).isEqualTo(0xE0000L);
        byte[] rsdp = new Image(blob).tableAt(blob.rsdpAddress());
        assertThat(new String(rsdp, 0, 8, StandardCharsets.US_ASCII)).isEqualTo("RSD PTR ");
        assertThat(sum(rsdp, 0, 20)).isZero();
        assertThat(sum(rsdp, 0, 36)).isZero();
        assertThat(rsdp[15]).isEqualTo((byte) 2);
        assertThat(new String(rsdp, 9, 6, StandardCharsets.US_ASCII)).isEqualTo("QTIANJ");
        assertThat(u(rsdp, 20, 4)).isEqualTo(36);
    }

    @Test
    void everyTableSumsToZeroAndCarriesOurOemId() {
        AcpiBlob blob = AcpiTables.build(AcpiConfig.defaults(4).withDsdtSources(List.of(PM)));
        for (AcpiBlob.Chunk c : blob.chunks()) {
            byte[] t = c.bytes();
            String s = sig(t);
            if (s.equals("RSD ") || s.equals("FACS")) {
                continue; // own checksum rules (above) / no checksum at all
            }
            assertThat(sum(t, 0, t.length)).as("checksum of %s", s).isZero();
            assertThat(u(t, 4, 4)).as("length of %s", s).isEqualTo(t.length);
            assertThat(new String(t, 10, 6, StandardCharsets.US_ASCII)).isEqualTo("QTIANJ");
        }
    }

    @Test
    void pointersLeadFromRsdpToEveryTable() {
        AcpiBlob blob = AcpiTables.build(AcpiConfig.defaults(2).withDsdtSources(List.of(PM)));
        Image img = new Image(blob);
        byte[] rsdp = img.tableAt(blob.rsdpAddress());
        byte[] xsdt = img.tableAt(u(rsdp, 24, 8));
        byte[] rsdt = img.tableAt(u(rsdp, 16, 4));
        assertThat(sig(xsdt)).isEqualTo("XSDT");
        assertThat(sig(rsdt)).isEqualTo("RSDT");
        List<String> viaXsdt = new ArrayList<>();
        for (int off = 36; off < xsdt.length; off += 8) {
            viaXsdt.add(sig(img.tableAt(u(xsdt, off, 8))));
            assertThat(u(rsdt, 36 + (off - 36) / 2, 4)).isEqualTo(u(xsdt, off, 8));
        }
        assertThat(viaXsdt).containsExactly("FACP", "APIC");
        byte[] fadt = img.tableAt(u(xsdt, 36, 8));
        long facs = u(fadt, 36, 4);
        assertThat(u(fadt, 132, 8)).isZero(); // X_FIRMWARE_CTRL: the 32-bit pointer alone, no duplicate FACS
        assertThat(facs % 64).isZero();
        assertThat(sig(img.tableAt(facs))).isEqualTo("FACS");
        long dsdt = u(fadt, 140, 8); // X_DSDT
        assertThat(u(fadt, 40, 4)).isEqualTo(dsdt);
        assertThat(sig(img.tableAt(dsdt))).isEqualTo("DSDT");
    }

    @Test
    void chunksAreAlignedDisjointAndInsideTheReportedRange() {
        AcpiBlob blob = AcpiTables.build(AcpiConfig.defaults(16).withDsdtSources(List.of(PM)));
        long prevEnd = 0;
        for (AcpiBlob.Chunk c : blob.chunks()) {
            assertThat(c.gpa() % 16).isZero();
            assertThat(c.gpa()).isGreaterThanOrEqualTo(prevEnd);
            prevEnd = c.end();
        }
        assertThat(blob.startAddress()).isEqualTo(0xE0000L);
        assertThat(blob.endAddress()).isEqualTo(prevEnd).isLessThanOrEqualTo(0x10_0000L);
    }

    @Test
    void fadtFieldsMatchThePmBlock() {
        AcpiConfig cfg = AcpiConfig.defaults(1).withDsdtSources(List.of(PM));
        byte[] fadt = find(AcpiTables.build(cfg), "FACP");
        assertThat(fadt).hasSize(276);
        assertThat(fadt[8]).isEqualTo((byte) 6);
        assertThat(u(fadt, 46, 2)).isEqualTo(9); // SCI_INT
        assertThat(u(fadt, 48, 4)).isZero(); // SMI_CMD: always in ACPI mode
        assertThat(u(fadt, 56, 4)).isEqualTo(PmBlock.PORT_BASE + PmBlock.PM1A_EVT_OFFSET);
        assertThat(u(fadt, 64, 4)).isEqualTo(PmBlock.PORT_BASE + PmBlock.PM1A_CNT_OFFSET);
        assertThat(u(fadt, 76, 4)).isEqualTo(PmBlock.PORT_BASE + PmBlock.PM_TMR_OFFSET);
        long flags = u(fadt, 112, 4);
        assertThat(flags & Fadt.HW_REDUCED_ACPI).isZero();
        assertThat(flags & Fadt.RESET_REG_SUP).isNotZero();
        // RESET_REG: SystemIO, 8 bits, at the PM block's reset register.
        assertThat(fadt[116]).isEqualTo((byte) 1);
        assertThat(fadt[117]).isEqualTo((byte) 8);
        assertThat(u(fadt, 120, 8)).isEqualTo(PmBlock.PORT_BASE + PmBlock.RESET_REG_OFFSET);
        assertThat(fadt[128] & 0xFF).isEqualTo(PmBlock.RESET_VALUE);
        // X_PM1a_EVT_BLK agrees with the 32-bit field (ACPICA compares them).
        assertThat(fadt[148]).isEqualTo((byte) 1);
        assertThat(fadt[149] & 0xFF).isEqualTo(32);
        assertThat(u(fadt, 152, 8)).isEqualTo(u(fadt, 56, 4));
    }

    @Test
    void withoutI8042TheFadtSaysSoAndTheDsdtOmitsIt() {
        AcpiConfig cfg = AcpiConfig.defaults(1).withLegacyDevices(true, true, false).withDsdtSources(List.of(PM));
        AcpiBlob blob = AcpiTables.build(cfg);
        assertThat(u(find(blob, "FACP"), 109, 2) & Fadt.BOOT_8042).isZero();
        assertThat(new String(find(blob, "DSDT"), StandardCharsets.ISO_8859_1)).doesNotContain("KBD_")
                .contains("COM1").contains("RTC_");
    }

    @Test
    void dsdtHoldsEachSourceInOrder() {
        AmlSource a = w -> w.name("\\AAAA", Aml.integer(0x11));
        AmlSource b = w -> w.name("\\BBBB", Aml.integer(0x22));
        AcpiConfig cfg = AcpiConfig.defaults(1).withLegacyDevices(false, false, false).withDescribeCpus(false)
                .withDsdtSources(List.of(a, b));
        byte[] dsdt = find(AcpiTables.build(cfg), "DSDT");
        byte[] body = java.util.Arrays.copyOfRange(dsdt, 36, dsdt.length);
        byte[] expected = new AmlWriter().append(a).append(b).toByteArray();
        assertThat(body).containsExactly(expected);
    }

    @Test
    void madtEntriesFollowTheConfiguredApicIds() {
        AcpiConfig cfg = AcpiConfig.defaults(1).withCpuApicIds(List.of(0, 2, 4, 6)).withIoApic(9, 0xFEC0_0000L, 0);
        byte[] madt = find(AcpiTables.build(cfg), "APIC");
        assertThat(u(madt, 36, 4)).isEqualTo(0xFEE0_0000L);
        assertThat(u(madt, 40, 4)).isEqualTo(1); // PCAT_COMPAT
        Map<Integer, List<byte[]>> byType = entries(madt);
        List<byte[]> lapics = byType.get(Madt.LOCAL_APIC);
        assertThat(lapics).hasSize(4);
        for (int uid = 0; uid < 4; uid++) {
            byte[] e = lapics.get(uid);
            assertThat(e[2] & 0xFF).isEqualTo(uid);
            assertThat(e[3] & 0xFF).isEqualTo(uid * 2);
            assertThat(u(e, 4, 4)).isEqualTo(1);
        }
        byte[] ioapic = byType.get(Madt.IO_APIC).getFirst();
        assertThat(ioapic[2] & 0xFF).isEqualTo(9);
        assertThat(u(ioapic, 4, 4)).isEqualTo(0xFEC0_0000L);
        List<byte[]> isos = byType.get(Madt.INTERRUPT_SOURCE_OVERRIDE);
        assertThat(isos).hasSize(2);
        assertThat(isos.get(0)[3]).isEqualTo((byte) 0);
        assertThat(u(isos.get(0), 4, 4)).isEqualTo(2);
        assertThat(isos.get(1)[3]).isEqualTo((byte) 9);
        assertThat(u(isos.get(1), 8, 2)).isEqualTo(0xD);
    }

    @Property(tries = 60)
    void tablesStayConsistentForAnyCpuCount(@ForAll @IntRange(min = 1, max = 600) int cpus) {
        AcpiConfig cfg = AcpiConfig.defaults(cpus).withTableBase(0x10_0000).withDsdtSources(List.of(PM));
        AcpiBlob blob = AcpiTables.build(cfg);
        for (AcpiBlob.Chunk c : blob.chunks()) {
            String s = sig(c.bytes());
            if (!s.equals("RSD ") && !s.equals("FACS")) {
                assertThat(sum(c.bytes(), 0, c.bytes().length)).isZero();
            }
        }
        Map<Integer, List<byte[]>> byType = entries(find(blob, "APIC"));
        int lapics = byType.getOrDefault(Madt.LOCAL_APIC, List.of()).size();
        int x2apics = byType.getOrDefault(Madt.LOCAL_X2APIC, List.of()).size();
        assertThat(lapics + x2apics).isEqualTo(cpus);
        assertThat(x2apics).isEqualTo(Math.max(0, cpus - 255));
    }

    @Test
    void rejectsTablesThatWouldSpillPastTheBiosArea() {
        byte[] big = new byte[200_000];
        AmlSource huge = w -> w.name("\\BLOB", Aml.buffer(big));
        assertThatThrownBy(() -> AcpiTables.build(AcpiConfig.defaults(1).withDsdtSources(List.of(huge))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 MiB");
        // Elsewhere they fit.
        AcpiBlob moved = AcpiTables.build(AcpiConfig.defaults(1).withTableBase(0x20_0000).withDsdtSources(List.of(huge)));
        assertThat(moved.endAddress() - moved.startAddress()).isGreaterThan(200_000);
    }

    @Test
    void rejectsInvalidConfigs() {
        assertThatThrownBy(() -> AcpiConfig.defaults(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AcpiConfig.defaults(2).withCpuApicIds(List.of(1, 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("distinct");
        assertThatThrownBy(() -> AcpiConfig.defaults(1).withCpuApicIds(List.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AcpiConfig.defaults(1).withTableBase(0xE0001))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AcpiConfig.defaults(1).withPmPorts(0xFFF8, 0x60C, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> AcpiConfig.defaults(1).withCpuApicIds(IntStream.range(0, 4097).boxed().toList()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    static byte[] find(AcpiBlob blob, String signature) {
        return blob.chunks().stream().map(AcpiBlob.Chunk::bytes).filter(b -> sig(b).equals(signature))
                .findFirst().orElseThrow();
    }

    /** MADT interrupt controller structures by type, in table order. */
    static Map<Integer, List<byte[]>> entries(byte[] madt) {
        Map<Integer, List<byte[]>> m = new HashMap<>();
        int off = 44;
        while (off < madt.length) {
            int type = madt[off] & 0xFF;
            int len = madt[off + 1] & 0xFF;
            assertThat(len).isGreaterThanOrEqualTo(2);
            m.computeIfAbsent(type, k -> new ArrayList<>()).add(java.util.Arrays.copyOfRange(madt, off, off + len));
            off += len;
        }
        assertThat(off).isEqualTo(madt.length);
        return m;
    }
}
