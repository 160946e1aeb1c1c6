package io.qingtian.acpi;

import java.util.List;

/**
 * Multiple APIC Description Table (signature "APIC"), revision 5 (ACPI 6.4 section 5.2.12).
 * The Debian cloud kernel has no MP-table support, so this table is how it finds its
 * CPUs: one enabled Processor Local APIC entry per vCPU (Processor Local x2APIC for IDs
 * that do not fit a byte), the IOAPIC, the two ISA interrupt overrides every PC has
 * (timer IRQ 0 on GSI 2; SCI on IRQ 9, level-triggered active-high) and LINT1 as NMI.
 */
final class Madt {
    static final int REVISION = 5;
    static final int PCAT_COMPAT = 1; // a dual-8259 PIC is present (KVM's in-kernel PIC)

    // Interrupt Controller Structure types (Table 5.45).
    static final int LOCAL_APIC = 0;
    static final int IO_APIC = 1;
    static final int INTERRUPT_SOURCE_OVERRIDE = 2;
    static final int LOCAL_APIC_NMI = 4;
    static final int LOCAL_X2APIC = 9;
    static final int LOCAL_X2APIC_NMI = 10;

    static final int ENABLED = 1;
    /** MPS INTI flags (Table 5.50): polarity bits 0-1, trigger mode bits 2-3. */
    static final int CONFORMS = 0x0;
    static final int ACTIVE_HIGH = 0x1;
    static final int EDGE = 0x4;
    static final int LEVEL = 0xC;
    static final int ALL_PROCESSORS_UID = 0xFF;

    private Madt() {}

    static byte[] build(AcpiConfig c) {
        Sdt t = new Sdt("APIC", REVISION);
        t.u32(c.localApicAddress());
        t.u32(PCAT_COMPAT);
        List<Integer> ids = c.cpuApicIds();
        boolean anyX2apic = false;
        for (int uid = 0; uid < ids.size(); uid++) {
            int apicId = ids.get(uid);
            if (apicId < 0xFF && uid <= 0xFE) {
                // Processor Local APIC (5.2.12.2): type, length 8, UID, APIC ID, flags.
                t.u8(LOCAL_APIC).u8(8).u8(uid).u8(apicId).u32(ENABLED);
            } else {
                // Processor Local x2APIC (5.2.12.12): type, length 16, reserved, ID, flags, UID.
                anyX2apic = true;
                t.u8(LOCAL_X2APIC).u8(16).u16(0).u32(apicId).u32(ENABLED).u32(uid);
            }
        }
        // I/O APIC (5.2.12.3): type, length 12, ID, reserved, address, GSI base.
        t.u8(IO_APIC).u8(12).u8(c.ioApicId()).u8(0).u32(c.ioApicAddress()).u32(c.ioApicGsiBase());
        // Interrupt Source Override (5.2.12.5): type, length 10, bus 0 (ISA), source, GSI, flags.
        t.u8(INTERRUPT_SOURCE_OVERRIDE).u8(10).u8(0).u8(0).u32(c.ioApicGsiBase() + 2L).u16(CONFORMS);
        t.u8(INTERRUPT_SOURCE_OVERRIDE).u8(10).u8(0).u8(AcpiConfig.SCI_IRQ)
                .u32(c.ioApicGsiBase() + (long) AcpiConfig.SCI_IRQ).u16(LEVEL | ACTIVE_HIGH);
        // Local APIC NMI (5.2.12.7): all processors, LINT1, edge/active-high as on PCs.
        t.u8(LOCAL_APIC_NMI).u8(6).u8(ALL_PROCESSORS_UID).u16(EDGE | ACTIVE_HIGH).u8(1);
        if (anyX2apic) {
            // Local x2APIC NMI (5.2.12.13): type, length 12, flags, UID (all), LINT#, reserved.
            t.u8(LOCAL_X2APIC_NMI).u8(12).u16(EDGE | ACTIVE_HIGH).u32(0xFFFF_FFFFL).u8(1).zeros(3);
        }
        return t.finish();
    }
}
