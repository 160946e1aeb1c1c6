package io.qingtian.acpi;

/**
 * The PC legacy devices the hypervisor emulates, as the DSDT describes them: COM1 (PNP0501),
 * the CMOS RTC (PNP0B00) and the i8042 keyboard controller (PNP0303), at their ISA ports and
 * IRQs. The hypervisor's device models take their ports and IRQs from here, so the description
 * and the decoding cannot drift apart.
 */
public final class LegacyDevices {
    public static final int COM1_PORT = 0x3F8;
    public static final int COM1_PORT_LENGTH = 8;
    public static final int COM1_IRQ = 4;

    public static final int RTC_PORT = 0x70;
    public static final int RTC_PORT_LENGTH = 2;
    public static final int RTC_IRQ = 8;

    public static final int I8042_PORT = 0x60;
    /** 0x60-0x64 inclusive (data at +0, command/status at +4). */
    public static final int I8042_PORT_LENGTH = 5;
    public static final int I8042_COMMAND_OFFSET = 4;
    public static final int KBD_IRQ = 1;

    /** {@code \_SB_.COM1}: PNP0501, its eight ports and IRQ 4. */
    public static final AmlSource COM1 = w -> w.device("\\_SB_.COM1", d -> d
            .name("_HID", Aml.eisaId("PNP0501"))
            .name("_UID", Aml.integer(1))
            .name("_CRS", new ResourceTemplate()
                    .io(COM1_PORT, COM1_PORT, 0, COM1_PORT_LENGTH)
                    .irqNoFlags(COM1_IRQ)
                    .toAml()));

    /** {@code \_SB_.RTC_}: PNP0B00, ports 0x70-0x71, IRQ 8. */
    public static final AmlSource RTC = w -> w.device("\\_SB_.RTC_", d -> d
            .name("_HID", Aml.eisaId("PNP0B00"))
            .name("_CRS", new ResourceTemplate()
                    .io(RTC_PORT, RTC_PORT, 1, RTC_PORT_LENGTH)
                    .irqNoFlags(RTC_IRQ)
                    .toAml()));

    /** {@code \_SB_.KBD_}: PNP0303, ports 0x60 and 0x64, IRQ 1. */
    public static final AmlSource KBD = w -> w.device("\\_SB_.KBD_", d -> d
            .name("_HID", Aml.eisaId("PNP0303"))
            .name("_CRS", new ResourceTemplate()
                    .io(I8042_PORT, I8042_PORT, 1, 1)
                    .io(I8042_PORT + I8042_COMMAND_OFFSET, I8042_PORT + I8042_COMMAND_OFFSET, 1, 1)
                    .irqNoFlags(KBD_IRQ)
                    .toAml()));

    private LegacyDevices() {}
}
