package io.qingtian.acpi;


/**
 * Fixed ACPI Description Table (signature "FACP"), revision 6 (ACPI 6.4 section 5.2.9,
 * Table 5.9): 276 bytes.
 *
 * <p>Why <em>not</em> hardware-reduced: a hardware-reduced FADT (HW_REDUCED_ACPI) tells
 * the OS there is no PM1 register block, no PM timer, no fixed power button and no
 * legacy-free guarantee to negotiate, and poweroff must then go through SLEEP_CONTROL_REG
 * or a GED device. We have a real PM1a block ({@link PmBlock}) and legacy ISA devices
 * (COM1, RTC, i8042), so the classic fixed-hardware model is the honest description and
 * it is what the Debian kernel's ACPI core exercises best (QEMU q35 does the same).
 * SMI_CMD is zero, so the OS finds the machine already in ACPI mode (SCI_EN reads 1).
 */
final class Fadt {
    static final int REVISION = 6;
    /** FADT Minor Version: the table follows ACPI 6.3 (the newest this layout matches field for field). */
    static final int MINOR_REVISION = 3;
    static final int LENGTH = 276;

    // Fixed feature flags (Table 5.10).
    static final int WBINVD = 1 << 0;
    static final int PROC_C1 = 1 << 2;
    static final int PWR_BUTTON = 1 << 4;
    static final int SLP_BUTTON = 1 << 5;
    static final int TMR_VAL_EXT = 1 << 8;
    static final int RESET_REG_SUP = 1 << 10;
    static final int HW_REDUCED_ACPI = 1 << 20;

    // IA-PC boot architecture flags (Table 5.11).
    static final int LEGACY_DEVICES = 1 << 0;
    static final int BOOT_8042 = 1 << 1;
    static final int VGA_NOT_PRESENT = 1 << 2;

    /** CMOS index of the century register, for the OS's RTC driver. */
    static final int CENTURY_CMOS_INDEX = 0x32;
    /** P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 mean "C2/C3 not supported": only C1 (HLT). */
    static final int P_LVL2_LAT_NONE = 101;
    static final int P_LVL3_LAT_NONE = 1001;

    private Fadt() {}

    static byte[] build(AcpiConfig c, long facsAddress, long dsdtAddress) {
        int pm = c.pmPortBase();
        Sdt t = new Sdt("FACP", REVISION);
        // FIRMWARE_CTRL only: the FACS is below 4 GiB, and with both fields set Linux's
        // ACPICA installs the FACS twice (and warns when they differ).
        t.u32(facsAddress); // FIRMWARE_CTRL
        t.u32(dsdtAddress); // DSDT
        t.u8(0); // reserved (INT_MODEL in ACPI 1.0)
        t.u8(0); // Preferred_PM_Profile: unspecified
        t.u16(AcpiConfig.SCI_IRQ); // SCI_INT
        t.u32(0); // SMI_CMD: none, the platform is always in ACPI mode
        t.u8(0); // ACPI_ENABLE
        t.u8(0); // ACPI_DISABLE
        t.u8(0); // S4BIOS_REQ
        t.u8(0); // PSTATE_CNT
        t.u32(pm + PmBlock.PM1A_EVT_OFFSET); // PM1a_EVT_BLK
        t.u32(0); // PM1b_EVT_BLK
        t.u32(pm + PmBlock.PM1A_CNT_OFFSET); // PM1a_CNT_BLK
        t.u32(0); // PM1b_CNT_BLK
        t.u32(0); // PM2_CNT_BLK
        t.u32(pm + PmBlock.PM_TMR_OFFSET); // PM_TMR_BLK
        t.u32(0); // GPE0_BLK
        t.u32(0); // GPE1_BLK
        t.u8(PmBlock.PM1_EVT_LEN); // PM1_EVT_LEN
        t.u8(PmBlock.PM1_CNT_LEN); // PM1_CNT_LEN
        t.u8(0); // PM2_CNT_LEN
        t.u8(PmBlock.PM_TMR_LEN); // PM_TMR_LEN
        t.u8(0); // GPE0_BLK_LEN
        t.u8(0); // GPE1_BLK_LEN
        t.u8(0); // GPE1_BASE
        t.u8(0); // CST_CNT
        t.u16(P_LVL2_LAT_NONE); // P_LVL2_LAT
        t.u16(P_LVL3_LAT_NONE); // P_LVL3_LAT
        t.u16(0); // FLUSH_SIZE
        t.u16(0); // FLUSH_STRIDE
        t.u8(0); // DUTY_OFFSET
        t.u8(0); // DUTY_WIDTH
        t.u8(0); // DAY_ALRM: no day-of-month alarm register
        t.u8(0); // MON_ALRM
        t.u8(c.describeRtc() ? CENTURY_CMOS_INDEX : 0); // CENTURY
        t.u16(LEGACY_DEVICES | (c.describeI8042() ? BOOT_8042 : 0) | VGA_NOT_PRESENT); // IAPC_BOOT_ARCH
        t.u8(0); // reserved
        t.u32(WBINVD | PROC_C1 | (c.powerButton() ? 0 : PWR_BUTTON) | SLP_BUTTON | TMR_VAL_EXT | RESET_REG_SUP);
        t.gas(new GenericAddress(GenericAddress.SYSTEM_IO, 8, 0, 1, c.resetPort())); // RESET_REG
        t.u8(c.resetValue()); // RESET_VALUE
        t.u16(0); // ARM_BOOT_ARCH
        t.u8(MINOR_REVISION); // FADT Minor Version
        t.u64(0); // X_FIRMWARE_CTRL
        t.u64(dsdtAddress); // X_DSDT
        t.gas(GenericAddress.io(pm + PmBlock.PM1A_EVT_OFFSET, PmBlock.PM1_EVT_LEN)); // X_PM1a_EVT_BLK
        t.gas(GenericAddress.NONE); // X_PM1b_EVT_BLK
        t.gas(GenericAddress.io(pm + PmBlock.PM1A_CNT_OFFSET, PmBlock.PM1_CNT_LEN)); // X_PM1a_CNT_BLK
        t.gas(GenericAddress.NONE); // X_PM1b_CNT_BLK
        t.gas(GenericAddress.NONE); // X_PM2_CNT_BLK
        t.gas(GenericAddress.io(pm + PmBlock.PM_TMR_OFFSET, PmBlock.PM_TMR_LEN)); // X_PM_TMR_BLK
        t.gas(GenericAddress.NONE); // X_GPE0_BLK
        t.gas(GenericAddress.NONE); // X_GPE1_BLK
        t.gas(GenericAddress.NONE); // SLEEP_CONTROL_REG (hardware-reduced only)
        t.gas(GenericAddress.NONE); // SLEEP_STATUS_REG
        t.ascii("QingTian", 8); // Hypervisor Vendor Identity
        if (t.size() != LENGTH) {
            throw new IllegalStateException("FADT layout is " + t.size() + " bytes, expected " + LENGTH);
        }
        return t.finish();
    }
}
