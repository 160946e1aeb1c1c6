package io.qingtian.hypervisor.pci;

/**
 * Bus 0 of PCI segment 0: 32 device slots with function 0 each. Configuration accesses
 * arrive from {@link PciConfigIo} (ports 0xCF8/0xCFC) or {@link PciConfigMmio} (ECAM)
 * and are routed here; absent functions read as all ones, as the spec requires.
 */
public final class PciBus {
    public static final int SLOTS = 32;

    private final PciFunction[] slots = new PciFunction[SLOTS];

    public PciBus() {
        slots[0] = new PciHostBridge();
    }

    /** Places a function in the first free slot and returns the slot number. */
    public synchronized int add(PciFunction function) {
        for (int i = 1; i < SLOTS; i++) {
            if (slots[i] == null) {
                slots[i] = function;
                return i;
            }
        }
        throw new IllegalStateException("PCI bus 0 is full (32 slots)");
    }

    public synchronized PciFunction function(int slot) {
        return slot >= 0 && slot < SLOTS ? slots[slot] : null;
    }

    /** Config read of bus/device/function/register; absent means all ones. */
    public int configRead(int bus, int device, int function, int offset, int size) {
        PciFunction f = bus == 0 && function == 0 ? function(device) : null;
        if (f == null) {
            return size >= 4 ? -1 : (1 << (8 * size)) - 1;
        }
        synchronized (f) {
            return f.configRead(offset, size);
        }
    }

    public void configWrite(int bus, int device, int function, int offset, int size, int value) {
        PciFunction f = bus == 0 && function == 0 ? function(device) : null;
        if (f != null) {
            synchronized (f) {
                f.configWrite(offset, size, value);
            }
        }
    }
}
