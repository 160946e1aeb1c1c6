package io.qingtian.hypervisor.pci;

/**
 * Where PCI segment 0 lives in the guest-physical and port address spaces. One record so
 * the bus wiring, the BAR allocator, the MCFG table and the DSDT's {@code _CRS} agree.
 *
 * <pre>
 *   0xC000_0000 .. 0xDFFF_FFFF   32-bit MMIO window for BARs (512 MiB)
 *   0xE000_0000 .. 0xE00F_FFFF   ECAM for bus 0 (MCFG)
 *   0xFEC0_0000, 0xFEE0_0000     IOAPIC, LAPIC (in-kernel irqchip, outside the window)
 *   mmio64Base  .. +mmio64Size   64-bit window above RAM for large BARs
 *   ports 0x0000-0x0CF7, 0x0D00-0xFFFF  I/O windows (0xCF8-0xCFF is config mechanism #1)
 * </pre>
 *
 * @param mmio32Base  start of the 32-bit BAR window
 * @param mmio32Size  its size
 * @param ecamBase    ECAM base (bus 0 only, {@link PciConfigMmio#SIZE_ONE_BUS})
 * @param mmio64Base  start of the 64-bit BAR window (1 GiB aligned, above RAM)
 * @param mmio64Size  its size
 */
public record PciLayout(long mmio32Base, long mmio32Size, long ecamBase, long mmio64Base, long mmio64Size) {
    public static final long MMIO32_BASE = 0xc000_0000L;
    public static final long MMIO32_SIZE = 0x2000_0000L;
    public static final long ECAM_BASE = 0xe000_0000L;
    public static final long MMIO64_SIZE = 64L << 30;
    /** 64-bit BARs at least this large are placed above 4 GiB. */
    public static final long HIGH_BAR_THRESHOLD = 256L << 20;
    /** A port window for I/O BARs (none of our devices has one; kept for completeness). */
    public static final long IO_BAR_BASE = 0x1000;
    public static final long IO_BAR_SIZE = 0x1000;

    /** The layout for a guest whose RAM ends at {@code ramEnd} (guest-physical, exclusive). */
    public static PciLayout forRamEnd(long ramEnd) {
        long base = Math.max(ramEnd, 0x1_0000_0000L);
        base = (base + (1L << 30) - 1) & -(1L << 30);
        return new PciLayout(MMIO32_BASE, MMIO32_SIZE, ECAM_BASE, base, MMIO64_SIZE);
    }

    public BarAllocator barAllocator() {
        return new BarAllocator(mmio32Base, mmio32Size, mmio64Base, mmio64Size, IO_BAR_BASE, IO_BAR_SIZE, HIGH_BAR_THRESHOLD);
    }
}
