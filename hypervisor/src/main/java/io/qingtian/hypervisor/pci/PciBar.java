package io.qingtian.hypervisor.pci;

/**
 * A base address register as a device declares it: which BAR slot, its size (a power of
 * two), and its kind. 64-bit memory BARs use two slots (index and index+1).
 */
public record PciBar(int index, long size, Kind kind, boolean prefetchable) {
    public enum Kind { IO, MEMORY32, MEMORY64 }

    public PciBar {
        if (index < 0 || index > 5 || (kind == Kind.MEMORY64 && index > 4)) {
            throw new IllegalArgumentException("bad BAR index " + index);
        }
        if (Long.bitCount(size) != 1 || size < (kind == Kind.IO ? 4 : 16)) {
            throw new IllegalArgumentException("BAR size must be a power of two (IO >= 4, memory >= 16): " + size);
        }
        if (kind == Kind.IO && size > 256) {
            throw new IllegalArgumentException("I/O BARs are at most 256 bytes");
        }
    }

    /** The low bits of the BAR register that encode its type (PCI 3.0 §6.2.5.1). */
    int typeBits() {
        return switch (kind) {
            case IO -> 0x1;
            case MEMORY32 -> prefetchable ? 0x8 : 0x0;
            case MEMORY64 -> 0x4 | (prefetchable ? 0x8 : 0x0);
        };
    }
}
