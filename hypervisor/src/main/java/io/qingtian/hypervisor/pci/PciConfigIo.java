package io.qingtian.hypervisor.pci;

import io.qingtian.hypervisor.bus.BusDevice;

/**
 * PCI configuration mechanism #1: CONFIG_ADDRESS at port 0xCF8, CONFIG_DATA at
 * 0xCFC-0xCFF (PCI 3.0 §3.2.2.3.2). Registered on the I/O bus at {@link #PORT} for
 * {@link #LENGTH} ports.
 */
public final class PciConfigIo implements BusDevice {
    public static final long PORT = 0xcf8;
    public static final long LENGTH = 8;
    private static final int ENABLE = 0x8000_0000;

    private final PciBus bus;
    private volatile int address;

    public PciConfigIo(PciBus bus) {
        this.bus = bus;
    }

    @Override
    public long read(long offset, int size) {
        if (offset < 4) {
            // CONFIG_ADDRESS is a dword register; narrower reads see its bytes.
            return size == 4 && offset == 0 ? address & 0xffff_ffffL : mask(size);
        }
        int a = address;
        if ((a & ENABLE) == 0) {
            return mask(size);
        }
        int reg = (a & 0xfc) + (int) (offset - 4);
        if (reg + size > 0x100 + (a & 0xfc)) {
            return mask(size);
        }
        return bus.configRead((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 0x7, reg, size) & mask(size);
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset < 4) {
            if (offset == 0 && size == 4) {
                address = (int) value & 0x80ff_fffc;
            }
            return;
        }
        int a = address;
        if ((a & ENABLE) == 0) {
            return;
        }
        int reg = (a & 0xfc) + (int) (offset - 4);
        bus.configWrite((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 0x7, reg, size, (int) value);
    }

    private static long mask(int size) {
        return size >= 4 ? 0xffff_ffffL : (1L << (8 * size)) - 1;
    }
}
