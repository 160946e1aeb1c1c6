package io.qingtian.acpi;

/**
 * What the tables say about PCI segment 0: the ECAM window for bus 0 (MCFG, and reserved by a
 * PNP0C02 device), the 32-bit and 64-bit BAR windows ({@code \_SB_.PCI0._CRS}) and the INTx
 * routing ({@code _PRT}). The hypervisor's PCI layout must agree with it; the hypervisor tests
 * check that it does.
 *
 * @param ecamBase   ECAM base for bus 0 (1 MiB, {@link #ECAM_SIZE_ONE_BUS})
 * @param mmio32Base start of the 32-bit BAR window
 * @param mmio32Size its size
 * @param mmio64Base start of the 64-bit BAR window (above RAM)
 * @param mmio64Size its size
 */
public record PciHostBridge(long ecamBase, long mmio32Base, long mmio32Size, long mmio64Base, long mmio64Size) {
    public static final long MMIO32_BASE = 0xc000_0000L;
    public static final long MMIO32_SIZE = 0x2000_0000L;
    public static final long ECAM_BASE = 0xe000_0000L;
    /** Bus 0 only: 32 devices x 8 functions x 4 KiB. */
    public static final long ECAM_SIZE_ONE_BUS = 1L << 20;
    public static final long MMIO64_SIZE = 64L << 30;
    /** INTA-INTD of all slots share IOAPIC pins 16-23 (the pins above the ISA IRQs). */
    public static final int FIRST_INTX_GSI = 16;
    public static final int INTX_GSIS = 8;

    public PciHostBridge {
        if ((ecamBase & (ECAM_SIZE_ONE_BUS - 1)) != 0 || ecamBase <= 0 || ecamBase + ECAM_SIZE_ONE_BUS > 1L << 32) {
            throw new IllegalArgumentException("ECAM base must be 1 MiB aligned and below 4 GiB: 0x" + Long.toHexString(ecamBase));
        }
        if (mmio32Base <= 0 || mmio32Size <= 0 || mmio32Base + mmio32Size > 1L << 32) {
            throw new IllegalArgumentException("bad 32-bit window 0x" + Long.toHexString(mmio32Base) + "+0x" + Long.toHexString(mmio32Size));
        }
        if (mmio64Base < 1L << 32 || mmio64Size <= 0 || mmio64Base + mmio64Size < mmio64Base) {
            throw new IllegalArgumentException("bad 64-bit window 0x" + Long.toHexString(mmio64Base) + "+0x" + Long.toHexString(mmio64Size));
        }
    }

    /**
     * The windows for a guest whose RAM ends at {@code ramEnd} (guest-physical, exclusive): the
     * 64-bit window starts at the first 1 GiB boundary at or above both RAM's end and 4 GiB.
     */
    public static PciHostBridge forRamEnd(long ramEnd) {
        long base = Math.max(ramEnd, 1L << 32);
        base = (base + (1L << 30) - 1) & -(1L << 30);
        return new PciHostBridge(ECAM_BASE, MMIO32_BASE, MMIO32_SIZE, base, MMIO64_SIZE);
    }

    /** The IOAPIC GSI that INTx pin {@code pin} (0 = INTA) of {@code slot} is wired to (the usual swizzle). */
    public static int intxGsi(int slot, int pin) {
        return FIRST_INTX_GSI + ((slot + pin) % INTX_GSIS);
    }

    /** {@code \_SB_.PCI0} and its ECAM reservation, for the DSDT. */
    public AmlSource aml() {
        return new PciRootAml(this);
    }

    /** The MCFG table for bus 0 of segment 0. */
    public byte[] mcfg() {
        return Mcfg.build(ecamBase, 0, 0, 0);
    }
}
