package io.qingtian.hypervisor.pci;

/**
 * A type-0 PCI configuration space (4 KiB, PCIe extended) with per-byte write masks.
 *
 * <p>Why masks: the guest may write any register with any width; what it may change is a
 * property of each bit (read-only IDs, read/write command bits, write-1-to-clear status
 * bits). Keeping the masks beside the bytes makes every register obey the PCI Local Bus
 * spec 3.0 §6.2 without per-register code, and lets capabilities declare their own masks.
 */
public final class PciConfigSpace {
    public static final int SIZE = 4096;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    public static final int COMMAND_IO = 1;
    public static final int COMMAND_MEMORY = 1 << 1;
    public static final int COMMAND_BUS_MASTER = 1 << 2;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    public static final int STATUS_INTERRUPT = 1 << 3;
    public static final int STATUS_CAPABILITIES = 1 << 4;

    private static final int FIRST_CAPABILITY = 0x40;

    private final byte[] bytes = new byte[SIZE];
    private final byte[] writable = new byte[SIZE];
    private final byte[] writeOneToClear = new byte[SIZE];
    private int nextCapability = FIRST_CAPABILITY;
    private int lastCapabilityPointer = CAPABILITIES_POINTER;

    public PciConfigSpace(int vendorId, int deviceId, int classCode, int revision,
                          int subsystemVendorId, int subsystemId) {
        set16(VENDOR_ID, vendorId);
        set16(DEVICE_ID, deviceId);
        set8(REVISION_ID, revision);
        set8(CLASS_PROG, classCode & 0xff);
        set16(CLASS_PROG + 1, classCode >>> 8);
        set16(SUBSYSTEM_VENDOR_ID, subsystemVendorId);
        set16(SUBSYSTEM_ID, subsystemId);
        // Command: I/O, memory, bus master, INTx disable are the guest's to change.
        mask16(COMMAND, COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE);
        mask8(INTERRUPT_LINE, 0xff);
    }

    /** Guest read: any offset and width; outside the space reads as all ones. */
    public int read(int offset, int size) {
        if (offset < 0 || size < 1 || size > 4 || offset + size > SIZE) {
            return size >= 4 ? -1 : (1 << (8 * size)) - 1;
        }
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= (bytes[offset + i] & 0xff) << (8 * i);
        }
        return v;
    }

    /** Guest write: applies the write masks; write-1-to-clear bits are cleared where written as 1. */
    public void write(int offset, int size, int value) {
        if (offset < 0 || size < 1 || size > 4 || offset + size > SIZE) {
            return;
        }
        for (int i = 0; i < size; i++) {
            int b = (value >>> (8 * i)) & 0xff;
            int at = offset + i;
            int w = writable[at] & 0xff;
            int c = writeOneToClear[at] & 0xff;
            int old = bytes[at] & 0xff;
            int updated = (old & ~w) | (b & w);
            updated &= ~(b & c);
            bytes[at] = (byte) updated;
        }
    }

    // ---- device-side accessors (ignore masks) ----

    public int get8(int offset) {
        return bytes[offset] & 0xff;
    }

    public int get16(int offset) {
        return read(offset, 2);
    }

    public int get32(int offset) {
        return read(offset, 4);
    }

    public void set8(int offset, int value) {
        bytes[offset] = (byte) value;
    }

    public void set16(int offset, int value) {
        set8(offset, value);
        set8(offset + 1, value >>> 8);
    }

    public void set32(int offset, int value) {
        set16(offset, value);
        set16(offset + 2, value >>> 16);
    }

    public void mask8(int offset, int mask) {
        writable[offset] = (byte) mask;
    }

    public void mask16(int offset, int mask) {
        mask8(offset, mask);
        mask8(offset + 1, mask >>> 8);
    }

    public void mask32(int offset, int mask) {
        mask16(offset, mask);
        mask16(offset + 2, mask >>> 16);
    }

    public void writeOneToClear16(int offset, int mask) {
        writeOneToClear[offset] = (byte) mask;
        writeOneToClear[offset + 1] = (byte) (mask >>> 8);
    }

    public boolean commandBit(int bit) {
        return (get16(COMMAND) & bit) != 0;
    }

    /**
     * Appends a capability (its body without the ID/next bytes) to the capability list and
     * returns its offset. Capabilities are dword aligned (PCI 3.0 §6.7).
     */
    public int addCapability(int id, byte[] body) {
        int offset = nextCapability;
        int length = 2 + body.length;
        if (offset + length > 0x100) {
            throw new IllegalStateException("PCI capability list is full");
        }
        set8(offset, id);
        set8(offset + 1, 0);
        System.arraycopy(body, 0, bytes, offset + 2, body.length);
        set8(lastCapabilityPointer, offset);
        lastCapabilityPointer = offset + 1;
        set16(STATUS, get16(STATUS) | STATUS_CAPABILITIES);
        nextCapability = (offset + length + 3) & ~3;
        return offset;
    }

    // ---- snapshot (issue 8): the register bytes; masks and the capability layout come from the
    // device's constructor, which a restoring VM runs the same way. ----

    /** A copy of the 4 KiB of register bytes. */
    public byte[] saveBytes() {
        return bytes.clone();
    }

    /** Replaces the register bytes with a saved copy of exactly {@link #SIZE} bytes. */
    public void restoreBytes(byte[] saved) {
        if (saved.length != SIZE) {
            throw new IllegalArgumentException("config space of " + saved.length + " bytes, expected " + SIZE);
        }
        System.arraycopy(saved, 0, bytes, 0, SIZE);
    }
}
