package io.qingtian.hypervisor.pci;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One PCI function: its configuration space, its BARs and the accesses that hit them.
 *
 * <p>BAR sizing needs no code of its own: each BAR register's write mask keeps the
 * address bits above the BAR size writable and the size and type bits read-only, so the
 * guest's "write all ones, read back" probe returns {@code ~(size-1) | type} exactly as
 * PCI 3.0 §6.2.5.1 describes.
 */
public abstract class PciFunction {
    protected final PciConfigSpace config;
    private final List<PciBar> bars = new ArrayList<>();

    protected PciFunction(PciConfigSpace config) {
        this.config = config;
    }

    public final PciConfigSpace config() {
        return config;
    }

    public final List<PciBar> bars() {
        return Collections.unmodifiableList(bars);
    }

    /** Declares a BAR; called by the device while it is being built. */
    protected final void declareBar(PciBar bar) {
        for (PciBar b : bars) {
            boolean clash = b.index() == bar.index()
                    || (b.kind() == PciBar.Kind.MEMORY64 && b.index() + 1 == bar.index())
                    || (bar.kind() == PciBar.Kind.MEMORY64 && bar.index() + 1 == b.index());
            if (clash) {
                throw new IllegalArgumentException("BAR " + bar.index() + " overlaps BAR " + b.index());
            }
        }
        bars.add(bar);
        int reg = PciConfigSpace.BAR0 + 4 * bar.index();
        long sizeMask = ~(bar.size() - 1);
        int lowMask = (int) sizeMask & (bar.kind() == PciBar.Kind.IO ? ~0x3 : ~0xf);
        config.set32(reg, bar.typeBits());
        config.mask32(reg, lowMask);
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            config.set32(reg + 4, 0);
            config.mask32(reg + 4, (int) (sizeMask >>> 32));
        }
    }

    /** Firmware-style placement before boot (the guest may move it later). */
    public final void assignBar(int index, long address) {
        PciBar bar = bar(index);
        if ((address & (bar.size() - 1)) != 0) {
            throw new IllegalArgumentException("BAR " + index + " address 0x" + Long.toHexString(address)
                    + " is not aligned to its size " + bar.size());
        }
        int reg = PciConfigSpace.BAR0 + 4 * index;
        config.set32(reg, (int) address | bar.typeBits());
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            config.set32(reg + 4, (int) (address >>> 32));
        }
    }

    public final PciBar bar(int index) {
        for (PciBar b : bars) {
            if (b.index() == index) {
                return b;
            }
        }
        throw new IllegalArgumentException("no BAR " + index);
    }

    /** The BAR's current guest address (whatever the guest last programmed). */
    public final long barAddress(PciBar bar) {
        int reg = PciConfigSpace.BAR0 + 4 * bar.index();
        long low = config.get32(reg) & (bar.kind() == PciBar.Kind.IO ? ~0x3L : ~0xfL) & 0xffff_ffffL;
        if (bar.kind() == PciBar.Kind.MEMORY64) {
            return low | ((long) config.get32(reg + 4) << 32);
        }
        return low;
    }

    /** Whether accesses to this BAR are decoded (command register I/O or memory enable). */
    public final boolean decodes(PciBar bar) {
        return config.commandBit(bar.kind() == PciBar.Kind.IO ? PciConfigSpace.COMMAND_IO : PciConfigSpace.COMMAND_MEMORY);
    }

    /** A configuration read from the guest. Devices with live registers override. */
    public int configRead(int offset, int size) {
        return config.read(offset, size);
    }

    /** A configuration write from the guest; devices react in {@link #configWritten}. */
    public final void configWrite(int offset, int size, int value) {
        config.write(offset, size, value);
        configWritten(offset, size);
    }

    /** Hook after a configuration write (BAR moves, MSI-X enable, command changes). */
    protected void configWritten(int offset, int size) {
    }

    /** A read of {@code size} bytes at {@code offset} inside BAR {@code bar}. Must not throw. */
    public abstract long barRead(PciBar bar, long offset, int size);

    /** A write inside BAR {@code bar}. Must not throw. */
    public abstract void barWrite(PciBar bar, long offset, int size, long value);
}
