package io.qingtian.acpi;

import java.util.ArrayList;
import java.util.List;

/**
 * The root bridge {@code \_SB_.PCI0} in the DSDT (PCI Firmware Specification 3.2 §4.5,
 * ACPI 6.4 §6.1/§6.2), as an {@link AmlSource}:
 * <ul>
 *   <li>{@code _HID} PNP0A08 (PCI Express root bridge), {@code _CID} PNP0A03, segment 0, bus 0;
 *   <li>{@code _CRS}: bus 0-0, the config ports 0xCF8-0xCFF, I/O windows 0x0000-0x0CF7 and
 *       0x0D00-0xFFFF, the 32-bit MMIO window and the 64-bit window; Linux keeps BARs inside
 *       these windows, so the BARs we placed stay where the hypervisor dispatches them;
 *   <li>{@code _PRT}: INTA-INTD of each slot to IOAPIC GSIs 16-23 (GSI form: the source is 0),
 *       so legacy INTx works when a driver does not enable MSI-X.
 * </ul>
 * A motherboard-resources device (PNP0C02) reserves the ECAM window, which Linux requires
 * before it trusts the MCFG table.
 */
public final class PciRootAml implements AmlSource {
    private final PciHostBridge layout;

    public PciRootAml(PciHostBridge layout) {
        this.layout = layout;
    }

    @Override
    public void appendAml(AmlWriter w) {
        w.scope("\\_SB_", sb -> {
            sb.device("PCI0", d -> d
                    .name("_HID", Aml.eisaId("PNP0A08"))
                    .name("_CID", Aml.eisaId("PNP0A03"))
                    .name("_ADR", Aml.ZERO)
                    .name("_SEG", Aml.ZERO)
                    .name("_BBN", Aml.ZERO)
                    .name("_UID", Aml.ZERO)
                    .name("_CRS", crs().toAml())
                    .name("_PRT", prt()));
            sb.device("MRES", d -> d
                    .name("_HID", Aml.eisaId("PNP0C02"))
                    .name("_UID", Aml.ZERO)
                    .name("_CRS", new ResourceTemplate()
                            .memory32Fixed(false, layout.ecamBase(), PciHostBridge.ECAM_SIZE_ONE_BUS)
                            .toAml()));
        });
    }

    ResourceTemplate crs() {
        return new ResourceTemplate()
                .wordBusNumber(0, 0)
                .io(0xcf8, 0xcf8, 1, 8)
                .wordIo(0x0000, 0x0cf7)
                .wordIo(0x0d00, 0xffff)
                .dwordMemory(ResourceTemplate.Cacheable.NON_CACHEABLE, true,
                        layout.mmio32Base(), layout.mmio32Base() + layout.mmio32Size() - 1)
                .qwordMemory(ResourceTemplate.Cacheable.NON_CACHEABLE, true,
                        layout.mmio64Base(), layout.mmio64Base() + layout.mmio64Size() - 1);
    }

    static Aml prt() {
        List<Aml> entries = new ArrayList<>();
        for (int slot = 1; slot < 32; slot++) {
            for (int pin = 0; pin < 4; pin++) {
                entries.add(Aml.pkg(Aml.integer(((long) slot << 16) | 0xffff), Aml.integer(pin), Aml.ZERO,
                        Aml.integer(PciHostBridge.intxGsi(slot, pin))));
            }
        }
        return Aml.pkg(entries.toArray(Aml[]::new));
    }
}
