package io.qingtian.acpi;

/**
 * Where the platform's fixed-hardware ACPI registers live (ACPI 6.4 §4.8): one I/O block that
 * holds PM1a_EVT (status + enable), PM1a_CNT, the PM timer and the reset register. The
 * hypervisor's PM device decodes exactly these ports; the FADT and {@code \_S5_} describe them.
 * They are part of the measured platform, so they live here, beside the tables.
 */
public final class PmBlock {
    public static final int PORT_BASE = 0x600;
    public static final int PORT_LENGTH = 0x10;
    /** PM1a_EVT_BLK: PM1_STS (2 bytes) then PM1_EN (2 bytes). */
    public static final int PM1A_EVT_OFFSET = 0x0;
    public static final int PM1_EVT_LEN = 4;
    public static final int PM1A_CNT_OFFSET = 0x4;
    public static final int PM1_CNT_LEN = 2;
    /** The 24/32-bit ACPI PM timer (3.579545 MHz). */
    public static final int PM_TMR_OFFSET = 0x8;
    public static final int PM_TMR_LEN = 4;
    /** FADT RESET_REG: writing {@link #RESET_VALUE} here resets the machine. */
    public static final int RESET_REG_OFFSET = 0xC;
    public static final int RESET_VALUE = 0x0F;
    /** SLP_TYP written to PM1a_CNT for S5 (soft off); {@code \_S5_} advertises it. */
    public static final int SLP_TYP_S5 = 5;

    /** {@code Name (\_S5_, Package () {5, 5, 0, 0})}: how the OS powers off (ACPI 6.4 §7.4.2). */
    public static final AmlSource S5 = w -> w.name("\\_S5_",
            Aml.pkg(Aml.integer(SLP_TYP_S5), Aml.integer(SLP_TYP_S5), Aml.ZERO, Aml.ZERO));

    private PmBlock() {}
}
