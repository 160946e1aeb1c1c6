package io.qingtian.acpi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generated tables as ACPICA (the code Linux's ACPI core is built from) sees them:
 * every table disassembles cleanly with {@code iasl -d}, the DSDT compiles back with iasl
 * to the very same AML, and {@code acpiexec} evaluates the objects Linux will evaluate.
 */
class IaslOracleTest {

    private static Map<String, byte[]> tablesBySignature(AcpiBlob blob) {
        Map<String, byte[]> m = new HashMap<>();
        for (AcpiBlob.Chunk c : blob.chunks()) {
            m.put(new String(c.bytes(), 0, 4, java.nio.charset.StandardCharsets.US_ASCII), c.bytes());
        }
        return m;
    }

    private static AcpiBlob standardTables(int cpus) {
        AmlSource pm = PmBlock.S5;
        return AcpiTables.build(AcpiConfig.defaults(cpus).withDsdtSources(List.of(pm)));
    }

    private static long count(String text, String needle) {
        return text.lines().filter(l -> l.contains(needle)).count();
    }

    @Test
    void everyTableDisassemblesCleanly(@TempDir Path dir) throws Exception {
        Map<String, byte[]> t = tablesBySignature(standardTables(2));
        assertThat(t.keySet()).contains("RSD ", "RSDT", "XSDT", "FACP", "FACS", "APIC", "DSDT");
        for (String sig : List.of("RSDT", "XSDT", "FACP", "FACS", "APIC", "DSDT")) {
            String dsl = AcpicaTools.disassemble(dir, sig.toLowerCase(), t.get(sig));
            if (!sig.equals("FACS")) {
                assertThat(dsl).contains("\"QTIANJ\"");
            }
        }
    }

    @Test
    void dsdtDescribesLegacyDevicesCpusAndS5(@TempDir Path dir) throws Exception {
        String dsl = AcpicaTools.disassemble(dir, "dsdt", tablesBySignature(standardTables(2)).get("DSDT"));
        assertThat(dsl)
                .contains("DefinitionBlock (\"\", \"DSDT\", 2, \"QTIANJ\"")
                .contains("Device (\\_SB.COM1)")
                .contains("EisaId (\"PNP0501\")")
                .contains("0x03F8,             // Range Minimum")
                .contains("EisaId (\"PNP0B00\")")
                .contains("EisaId (\"PNP0303\")")
                .contains("Device (C000)", "Device (C001)")
                .contains("\"ACPI0007\"")
                .contains("Name (\\_S5, Package (0x04)");
        // IRQ 4 for COM1, 8 for the RTC, 1 for the keyboard.
        assertThat(dsl.replaceAll("\\s+", " ")).contains("IRQNoFlags () {4}", "IRQNoFlags () {8}", "IRQNoFlags () {1}");
    }

    @Test
    void dsdtRecompilesToIdenticalAml(@TempDir Path dir) throws Exception {
        byte[] dsdt = tablesBySignature(standardTables(4)).get("DSDT");
        AcpicaTools.disassemble(dir, "dsdt", dsdt);
        // -oa: no optimizations, so iasl emits exactly what the source says.
        AcpicaTools.Result r = AcpicaTools.run(dir, "iasl", "-oa", "-p", "again", "dsdt.dsl");
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).contains("Compilation successful. 0 Errors, 0 Warnings, 0 Remarks");
        byte[] again = Files.readAllBytes(dir.resolve("again.aml"));
        // The header differs (iasl writes its own compiler ID); the AML body must not.
        assertThat(Arrays.copyOfRange(again, Sdt.HEADER_SIZE, again.length))
                .containsExactly(Arrays.copyOfRange(dsdt, Sdt.HEADER_SIZE, dsdt.length));
    }

    @Test
    void madtListsEveryCpuTheIoApicAndOverrides(@TempDir Path dir) throws Exception {
        String dsl = AcpicaTools.disassemble(dir, "apic", tablesBySignature(standardTables(8)).get("APIC"));
        assertThat(count(dsl, "Subtable Type : 00 [Processor Local APIC]")).isEqualTo(8);
        assertThat(count(dsl, "Processor Enabled : 1")).isEqualTo(8);
        assertThat(count(dsl, "Subtable Type : 01 [I/O APIC]")).isEqualTo(1);
        assertThat(dsl).contains("Address : FEC00000", "Local Apic Address : FEE00000");
        assertThat(count(dsl, "Subtable Type : 02 [Interrupt Source Override]")).isEqualTo(2);
        assertThat(dsl).contains("Interrupt : 00000002"); // IRQ 0 -> GSI 2
        assertThat(dsl).contains("Trigger Mode : 3", "Polarity : 1"); // SCI: level, active high
        assertThat(count(dsl, "Subtable Type : 04 [Local APIC NMI]")).isEqualTo(1);
        assertThat(dsl).contains("Interrupt Input LINT : 01");
        for (int id = 0; id < 8; id++) {
            assertThat(dsl).contains(String.format("Local Apic ID : %02X", id));
        }
    }

    @Test
    void madtUsesX2apicEntriesBeyondApicId254(@TempDir Path dir) throws Exception {
        List<Integer> ids = IntStream.range(0, 300).boxed().toList();
        AcpiBlob blob = AcpiTables.build(AcpiConfig.defaults(1).withCpuApicIds(ids)
                .withTableBase(0x10_0000).withDsdtSources(List.of(PmBlock.S5)));
        String dsl = AcpicaTools.disassemble(dir, "apic", tablesBySignature(blob).get("APIC"));
        assertThat(count(dsl, "[Processor Local APIC]")).isEqualTo(255);
        assertThat(count(dsl, "[Processor Local x2APIC]")).isEqualTo(45);
        assertThat(count(dsl, "[Local x2APIC NMI]")).isEqualTo(1);
        assertThat(dsl).contains("Processor x2Apic ID : 0000012B"); // APIC ID 299
        String dsdt = AcpicaTools.disassemble(dir, "dsdt", tablesBySignature(blob).get("DSDT"));
        assertThat(dsdt).contains("Device (C12B)");
    }

    @Test
    void fadtDescribesTheFixedHardwareModel(@TempDir Path dir) throws Exception {
        String dsl = AcpicaTools.disassemble(dir, "facp", tablesBySignature(standardTables(2)).get("FACP"));
        assertThat(dsl)
                .contains("Revision : 06")
                .contains("SCI Interrupt : 0009")
                .contains("PM1A Event Block Address : 00000600")
                .contains("PM1A Control Block Address : 00000604")
                .contains("PM Timer Block Address : 00000608")
                .contains("PM1 Event Block Length : 04")
                .contains("PM1 Control Block Length : 02")
                .contains("PM Timer Block Length : 04")
                .contains("Hardware Reduced (V5) : 0")
                .contains("Reset Register Supported (V2) : 1")
                .contains("32-bit PM Timer (V1) : 1")
                .contains("8042 Present on ports 60/64 (V2) : 1")
                .contains("Legacy Devices Supported (V2) : 1")
                .contains("Address : 000000000000060C")
                .contains("Value to cause reset : 0F")
                .contains("RTC Century Index : 32");
    }

    @Test
    void acpiexecEvaluatesS5AndResourcesAsThePmBlockExpects(@TempDir Path dir) throws Exception {
        Map<String, byte[]> t = tablesBySignature(standardTables(2));
        Files.write(dir.resolve("facp.dat"), t.get("FACP"));
        Files.write(dir.resolve("dsdt.dat"), t.get("DSDT"));
        Files.write(dir.resolve("apic.dat"), t.get("APIC"));
        Files.write(dir.resolve("facs.dat"), t.get("FACS"));
        AcpicaTools.Result r = AcpicaTools.run(dir, "acpiexec", "-b",
                "evaluate \\_S5_; evaluate \\_SB_.COM1._CRS; evaluate \\_SB_.C001._UID; sleep 5",
                "facp.dat", "dsdt.dat", "apic.dat", "facs.dat");
        assertThat(r.exitCode()).as(r.output()).isZero();
        String out = r.output();
        assertThat(out).contains("FACP", "QTIANJ");
        assertThat(out).contains("[Package] Contains 4 Elements:");
        assertThat(out).contains("[Integer] = 0000000000000005");
        // COM1 _CRS: IO 0x3F8-0x3F8 len 8, IRQNoFlags {4}, end tag.
        assertThat(out).contains("47 01 F8 03 F8 03 00 08 22 10 00 79 00");
        assertThat(out).contains("[Integer] = 0000000000000001");
        // The sleep path reads the very SLP_TYP the PM block powers off on.
        assertThat(out).contains(String.format("Sleep-A: %02X", PmBlock.SLP_TYP_S5));
        assertThat(out).contains("Table [DSDT: QTJDSDT ]");
        assertThat(out).doesNotContain("AE_AML");
    }

    @Test
    void sourcesAppendTheirOwnAmlToTheDsdt(@TempDir Path dir) throws Exception {
        AmlSource pci = w -> w.scope("\\_SB_", sb -> sb.device("PCI0", d -> d
                .name("_HID", Aml.eisaId("PNP0A08"))
                .name("_CID", Aml.eisaId("PNP0A03"))
                .name("_SEG", Aml.ZERO)
                .name("_UID", Aml.ZERO)
                .method("_STA", 0, false, m -> m.returnValue(Aml.integer(0x0F)))
                .name("_CRS", new ResourceTemplate()
                        .wordBusNumber(0, 0xFF)
                        .wordIo(0, 0xCF7)
                        .wordIo(0xD00, 0xFFFF)
                        .dwordMemory(ResourceTemplate.Cacheable.NON_CACHEABLE, true, 0xC000_0000L, 0xFEBF_FFFFL)
                        .qwordMemory(ResourceTemplate.Cacheable.NON_CACHEABLE, true, 0x1_0000_0000L, 0xF_FFFF_FFFFL)
                        .toAml())));
        AcpiBlob blob = AcpiTables.build(AcpiConfig.defaults(1)
                .withDsdtSources(List.of(PmBlock.S5, pci)));
        String dsl = AcpicaTools.disassemble(dir, "dsdt", tablesBySignature(blob).get("DSDT"));
        assertThat(dsl).contains("Device (PCI0)", "EisaId (\"PNP0A08\")", "WordBusNumber (ResourceProducer",
                "QWordMemory (ResourceProducer", "Method (_STA, 0, NotSerialized)");
    }
}
