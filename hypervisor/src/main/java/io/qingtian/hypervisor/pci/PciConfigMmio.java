package io.qingtian.hypervisor.pci;

import io.qingtian.hypervisor.bus.BusDevice;

/**
 * PCI Express enhanced configuration access (ECAM): each function's 4 KiB configuration
 * space mapped at {@code base + (bus << 20 | device << 15 | function << 12)}. The window
 * for bus 0 is {@link #SIZE_ONE_BUS}; the ACPI MCFG table announces it.
 */
public final class PciConfigMmio implements BusDevice {
    public static final long SIZE_ONE_BUS = 1L << 20;

    private final PciBus bus;

    public PciConfigMmio(PciBus bus) {
        this.bus = bus;
    }

    @Override
    public long read(long offset, int size) {
        if (size > 4 || offset < 0 || offset >= SIZE_ONE_BUS) {
            return -1L;
        }
        int reg = (int) (offset & 0xfff);
        if (reg + size > PciConfigSpace.SIZE) {
            return size >= 4 ? 0xffff_ffffL : (1L << (8 * size)) - 1;
        }
        long v = bus.configRead((int) (offset >>> 20), (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 0x7, reg, size);
        return size >= 4 ? v & 0xffff_ffffL : v & ((1L << (8 * size)) - 1);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size > 4 || offset < 0 || offset >= SIZE_ONE_BUS) {
            return;
        }
        int reg = (int) (offset & 0xfff);
        if (reg + size > PciConfigSpace.SIZE) {
            return;
        }
        bus.configWrite((int) (offset >>> 20), (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 0x7, reg, size, (int) value);
    }
}
