package io.qingtian.hypervisor.pci;

import java.util.Arrays;

/**
 * The MSI-X table and pending-bit array of one function (PCI 3.0 §6.8.2), plus the state
 * of its capability's Message Control register.
 *
 * <p>Delivery rule: a vector fires only while MSI-X is enabled, the function is not
 * masked and the entry is not masked; otherwise its pending bit is set and it fires when
 * it becomes unmasked (§6.8.2.9). Route changes are reported to a {@link Listener} so the
 * hypervisor can keep KVM's GSI routes (used by irqfds) equal to the table, and unbind the
 * irqfds of a vector while it may not fire; what they hold back shows in the PBA.
 */
public final class MsixTable {
    public static final int ENTRY_SIZE = 16;
    public static final int CAP_ID = 0x11;
    public static final int CONTROL_ENABLE = 1 << 15;
    public static final int CONTROL_FUNCTION_MASK = 1 << 14;
    private static final int VECTOR_CONTROL_MASKED = 1;

    /** Receives deliveries and route changes. */
    public interface Listener {
        /** Deliver the message now (KVM_SIGNAL_MSI or an irqfd). */
        void deliver(int vector, MsiMessage message);

        /**
         * The entry's message or mask changed; {@code usable} is false while it may not fire.
         * A listener that delivers without this table (KVM irqfds) must then hold those
         * deliveries back and report them through {@link #pending}.
         */
        default void routeChanged(int vector, MsiMessage message, boolean usable) {
        }

        /**
         * Whether an interrupt for {@code vector} arrived outside this table while it could
         * not fire (an irqfd's eventfd signalled while the vector was masked): it shows in the
         * PBA like the table's own pending bits.
         */
        default boolean pending(int vector) {
            return false;
        }
    }

    private final int size;
    private final int[] table; // 4 dwords per entry
    private final long[] pending;
    private final Listener listener;
    private boolean enabled;
    private boolean functionMasked;

    public MsixTable(int size, Listener listener) {
        if (size < 1 || size > 2048) {
            throw new IllegalArgumentException("MSI-X table size must be 1..2048: " + size);
        }
        this.size = size;
        this.table = new int[size * 4];
        this.pending = new long[(size + 63) / 64];
        this.listener = listener;
        for (int v = 0; v < size; v++) {
            table[v * 4 + 3] = VECTOR_CONTROL_MASKED; // entries start masked (§6.8.2.9)
        }
    }

    public int size() {
        return size;
    }

    public int tableBytes() {
        return size * ENTRY_SIZE;
    }

    public int pbaBytes() {
        return pending.length * 8;
    }

    public synchronized boolean enabled() {
        return enabled;
    }

    /** The capability body (after ID/next) for a table in {@code bir} at {@code tableOffset}. */
    public byte[] capabilityBody(int bir, int tableOffset, int pbaOffset) {
        byte[] b = new byte[10];
        int control = size - 1;
        b[0] = (byte) control;
        b[1] = (byte) (control >>> 8);
        putInt(b, 2, tableOffset | bir);
        putInt(b, 6, pbaOffset | bir);
        return b;
    }

    /** Called when the guest writes Message Control; only enable and function mask are writable. */
    public void controlWritten(int control) {
        boolean deliver;
        synchronized (this) {
            enabled = (control & CONTROL_ENABLE) != 0;
            functionMasked = (control & CONTROL_FUNCTION_MASK) != 0;
            deliver = enabled && !functionMasked;
        }
        for (int v = 0; v < size; v++) {
            reportRoute(v);
            if (deliver) {
                firePendingIfUnmasked(v);
            }
        }
    }

    /** Reads inside the table (dword or qword accesses; others read as zero per §6.8.2). */
    public long readTable(long offset, int size) {
        if (!validAccess(offset, size, tableBytes())) {
            return 0;
        }
        int i = (int) (offset / 4);
        synchronized (this) {
            long v = table[i] & 0xffff_ffffL;
            return size == 8 ? v | ((table[i + 1] & 0xffff_ffffL) << 32) : v;
        }
    }

    public void writeTable(long offset, int size, long value) {
        if (!validAccess(offset, size, tableBytes())) {
            return;
        }
        int i = (int) (offset / 4);
        synchronized (this) {
            table[i] = (int) value;
            if (size == 8) {
                table[i + 1] = (int) (value >>> 32);
            }
        }
        int vector = i / 4;
        reportRoute(vector);
        firePendingIfUnmasked(vector);
    }

    public long readPba(long offset, int size) {
        if (!validAccess(offset, size, pbaBytes())) {
            return 0;
        }
        int word = (int) (offset / 8);
        long q;
        synchronized (this) {
            q = pending[word];
        }
        // Outside our lock: the listener takes its own (it calls into KVM's eventfds).
        for (int v = word * 64; v < Math.min(size(), word * 64 + 64); v++) {
            if (listener.pending(v)) {
                q |= 1L << (v % 64);
            }
        }
        return size == 8 ? q : (q >>> (8 * (offset & 4))) & 0xffff_ffffL;
    }

    /** The device wants to interrupt on {@code vector}: deliver or mark pending. */
    public void trigger(int vector) {
        if (vector < 0 || vector >= size) {
            return; // VIRTIO_MSI_NO_VECTOR or a bogus vector: nothing to signal
        }
        MsiMessage m;
        synchronized (this) {
            if (!canFire(vector)) {
                pending[vector / 64] |= 1L << (vector % 64);
                return;
            }
            m = message(vector);
        }
        listener.deliver(vector, m);
    }

    public synchronized boolean isPending(int vector) {
        return (pending[vector / 64] & (1L << (vector % 64))) != 0;
    }

    public synchronized boolean isMasked(int vector) {
        return (table[vector * 4 + 3] & VECTOR_CONTROL_MASKED) != 0;
    }

    public synchronized MsiMessage message(int vector) {
        long address = (table[vector * 4] & 0xffff_ffffL) | ((table[vector * 4 + 1] & 0xffff_ffffL) << 32);
        return new MsiMessage(address, table[vector * 4 + 2]);
    }

    private boolean canFire(int vector) {
        return enabled && !functionMasked && (table[vector * 4 + 3] & VECTOR_CONTROL_MASKED) == 0;
    }

    private void firePendingIfUnmasked(int vector) {
        MsiMessage m;
        synchronized (this) {
            if (!isPending(vector) || !canFire(vector)) {
                return;
            }
            pending[vector / 64] &= ~(1L << (vector % 64));
            m = message(vector);
        }
        listener.deliver(vector, m);
    }

    private void reportRoute(int vector) {
        MsiMessage m;
        boolean usable;
        synchronized (this) {
            m = message(vector);
            usable = canFire(vector);
        }
        listener.routeChanged(vector, m, usable);
    }

    private static boolean validAccess(long offset, int size, int limit) {
        return (size == 4 || size == 8) && offset >= 0 && (offset & (size - 1)) == 0 && offset + size <= limit;
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }

    @Override
    public synchronized String toString() {
        return "MsixTable[size=" + size + ", enabled=" + enabled + ", pending=" + Arrays.toString(pending) + "]";
    }

    // ---- snapshot (issue 8) ----

    public synchronized boolean functionMasked() {
        return functionMasked;
    }

    /** The table, 4 dwords per vector. */
    public synchronized int[] saveTable() {
        return table.clone();
    }

    /** The pending-bit array. */
    public synchronized long[] savePending() {
        return pending.clone();
    }

    /**
     * Takes over a saved table, pending bits and Message Control state, then reports every
     * vector's route (so KVM's GSI routes equal the table again). Pending vectors stay
     * pending until the guest unmasks them, as they were.
     */
    public void restoreState(boolean enable, boolean maskAll, int[] savedTable, long[] savedPending) {
        if (savedTable.length != table.length || savedPending.length != pending.length) {
            throw new IllegalArgumentException("MSI-X table of " + savedTable.length / 4 + " vectors, this device has " + size);
        }
        synchronized (this) {
            System.arraycopy(savedTable, 0, table, 0, table.length);
            System.arraycopy(savedPending, 0, pending, 0, pending.length);
            enabled = enable;
            functionMasked = maskAll;
        }
        for (int v = 0; v < size; v++) {
            reportRoute(v);
        }
    }
}
