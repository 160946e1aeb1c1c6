package io.qingtian.acpi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MCFG and \_SB_.PCI0 as ACPICA (iasl -d) reads them. */
class PciAcpiTest {
    static final PciHostBridge LAYOUT = PciHostBridge.forRamEnd(0x1_4000_0000L); // 4 GiB RAM: 3 low + 1 high

    private static AcpiBlob tables() {
        AmlSource pm = PmBlock.S5;
        return AcpiTables.build(AcpiConfig.defaults(1).withDsdtSources(List.of(pm, new PciRootAml(LAYOUT))),
                List.of(Mcfg.build(LAYOUT.ecamBase(), 0, 0, 0)));
    }

    private static byte[] table(AcpiBlob b, String sig) {
        for (AcpiBlob.Chunk c : b.chunks()) {
            if (new String(c.bytes(), 0, 4, StandardCharsets.US_ASCII).equals(sig)) {
                return c.bytes();
            }
        }
        throw new AssertionError("no " + sig);
    }

    @Test
    void mcfgAnnouncesEcamForBusZeroAndIsListedInXsdt(@TempDir Path dir) throws Exception {
        AcpiBlob b = tables();
        byte[] mcfg = table(b, "MCFG");
        assertThat(mcfg).hasSize(36 + 8 + 16);
        String dsl = AcpicaTools.disassemble(dir, "mcfg", mcfg);
        assertThat(dsl).contains("Base Address : 00000000E0000000").contains("Start Bus Number : 00")
                .contains("End Bus Number : 00");
        String xsdt = AcpicaTools.disassemble(dir, "xsdt", table(b, "XSDT"));
        assertThat(xsdt).contains("ACPI Table Address   2");
    }

    @Test
    void dsdtDescribesTheRootBridgeWindowsAndInterruptRouting(@TempDir Path dir) throws Exception {
        String dsl = AcpicaTools.disassemble(dir, "dsdt", table(tables(), "DSDT"));
        AcpicaTools.assertNoDiagnostics("dsdt", dsl);
        assertThat(dsl).contains("Device (PCI0)")
                .contains("EisaId (\"PNP0A08\")").contains("EisaId (\"PNP0A03\")")
                .contains("Name (_SEG, Zero)").contains("Name (_BBN, Zero)")
                .contains("WordBusNumber (ResourceProducer")
                .contains("0x0CF7,             // Range Maximum")
                .contains("0x0D00,             // Range Minimum")
                .contains("0xC0000000,         // Range Minimum")
                .contains("0xDFFFFFFF,         // Range Maximum")
                .contains("0x0000000140000000, // Range Minimum") // 64-bit window right above RAM (1 GiB aligned)
                .contains("Name (_PRT, Package (0x7C)")
                .contains("EisaId (\"PNP0C02\")");
        // slot 1 INTA on GSI 17, slot 7 INTB on GSI 16 (swizzled over 16-23)
        assertThat(dsl.replaceAll("\\s+", " ")).contains("Package (0x04) { 0x0001FFFF, Zero, Zero, 0x11 }")
                .contains("Package (0x04) { 0x0007FFFF, One, Zero, 0x10 }");
    }
}
