package io.qingtian.hypervisor.pci;

import io.qingtian.hypervisor.bus.BusDevice;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * An MMIO window of the root bridge: forwards each access to the function whose memory
 * BAR currently contains the address. The BAR addresses are read from configuration space
 * on every access, so a guest that moves a BAR (or turns memory decode off in the command
 * register) is followed without rebuilding the immutable {@code Bus}. Accesses that hit no
 * decoding BAR read as all ones and writes are dropped (a master abort), logged once.
 *
 * <p>Cost: a scan of at most 32 functions with one to six BARs each; BAR exits are rare
 * (queue notifications go to ioeventfds), so no index is kept.
 */
public final class PciMmioWindow implements BusDevice {
    private static final Logger LOG = Logger.getLogger(PciMmioWindow.class.getName());

    private final PciBus bus;
    private final long base;
    private final AtomicBoolean warned = new AtomicBoolean();

    /** @param base guest-physical address of offset 0 of this window */
    public PciMmioWindow(PciBus bus, long base) {
        this.bus = bus;
        this.base = base;
    }

    @Override
    public long read(long offset, int size) {
        long addr = base + offset;
        for (int slot = 0; slot < PciBus.SLOTS; slot++) {
            PciFunction f = bus.function(slot);
            if (f == null) {
                continue;
            }
            for (PciBar bar : f.bars()) {
                long at = hit(f, bar, addr, size);
                if (at >= 0) {
                    try {
                        return f.barRead(bar, at, size);
                    } catch (RuntimeException e) {
                        warnOnce("BAR read failed at 0x" + Long.toHexString(addr) + ": " + e);
                        return allOnes(size);
                    }
                }
            }
        }
        warnOnce("read of " + size + " bytes at 0x" + Long.toHexString(addr) + " hits no PCI BAR (master abort)");
        return allOnes(size);
    }

    @Override
    public void write(long offset, int size, long value) {
        long addr = base + offset;
        for (int slot = 0; slot < PciBus.SLOTS; slot++) {
            PciFunction f = bus.function(slot);
            if (f == null) {
                continue;
            }
            for (PciBar bar : f.bars()) {
                long at = hit(f, bar, addr, size);
                if (at >= 0) {
                    try {
                        f.barWrite(bar, at, size, value);
                    } catch (RuntimeException e) {
                        warnOnce("BAR write failed at 0x" + Long.toHexString(addr) + ": " + e);
                    }
                    return;
                }
            }
        }
        warnOnce("write of " + size + " bytes at 0x" + Long.toHexString(addr) + " hits no PCI BAR (dropped)");
    }

    /** Offset of {@code addr} inside {@code bar} when the whole access fits and is decoded, else -1. */
    private static long hit(PciFunction f, PciBar bar, long addr, int size) {
        if (bar.kind() == PciBar.Kind.IO) {
            return -1;
        }
        long start;
        boolean decodes;
        synchronized (f) {
            start = f.barAddress(bar);
            decodes = f.decodes(bar);
        }
        if (!decodes || start == 0 || addr < start || addr + size > start + bar.size()) {
            return -1;
        }
        return addr - start;
    }

    private void warnOnce(String what) {
        if (warned.compareAndSet(false, true)) {
            LOG.warning(what + " (further such accesses are not logged)");
        }
    }

    private static long allOnes(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }
}
