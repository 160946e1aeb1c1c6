package io.qingtian.hypervisor.pci;

/**
 * Places BARs the way firmware would before the guest boots: memory BARs in the 32-bit
 * MMIO window below 4 GiB, large 64-bit BARs in a window above guest RAM, I/O BARs in a
 * port window. Each allocation is aligned to its size (BARs are naturally aligned).
 */
public final class BarAllocator {
    private final Window mmio32;
    private final Window mmio64;
    private final Window io;
    /** 64-bit BARs at least this large go above 4 GiB. */
    private final long highThreshold;

    public BarAllocator(long mmio32Base, long mmio32Size, long mmio64Base, long mmio64Size,
                        long ioBase, long ioSize, long highThreshold) {
        this.mmio32 = new Window("32-bit MMIO", mmio32Base, mmio32Size);
        this.mmio64 = new Window("64-bit MMIO", mmio64Base, mmio64Size);
        this.io = new Window("I/O port", ioBase, ioSize);
        this.highThreshold = highThreshold;
    }

    /** Allocates every BAR of {@code f} and programs it into the function's config space. */
    public void place(PciFunction f) {
        for (PciBar bar : f.bars()) {
            Window w = switch (bar.kind()) {
                case IO -> io;
                case MEMORY32 -> mmio32;
                case MEMORY64 -> bar.size() >= highThreshold ? mmio64 : mmio32;
            };
            f.assignBar(bar.index(), w.allocate(bar.size()));
        }
    }

    private static final class Window {
        private final String name;
        private final long base;
        private final long end;
        private long next;

        Window(String name, long base, long size) {
            this.name = name;
            this.base = base;
            this.end = base + size;
            this.next = base;
        }

        long allocate(long size) {
            long at = (next + size - 1) & -size;
            if (at < base || at + size > end || at + size < at) {
                throw new IllegalStateException("the " + name + " window has no room for a BAR of " + size + " bytes");
            }
            next = at + size;
            return at;
        }
    }
}
