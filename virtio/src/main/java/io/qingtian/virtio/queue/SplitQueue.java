package io.qingtian.virtio.queue;

import io.qingtian.virtio.memory.GuestMemory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The device side of a split virtqueue (virtio 1.2 §2.7): pops available descriptor
 * chains, returns used elements, and decides whether the driver needs an interrupt.
 *
 * <p>The three rings are host views already translated and bounds-checked by whoever set
 * the queue up (the hypervisor through {@link GuestMemory#slice}, a vhost-user backend
 * through the frontend's memory table), so ring accesses are plain segment accesses.
 * Buffers named by descriptors are translated through {@code memory} for each request.
 *
 * <p>Memory ordering (§2.7.13, §2.7.14): the avail index is read with acquire semantics
 * before the ring entries it covers; used elements are written before the used index is
 * stored with release semantics; a full fence separates publishing the used index (or
 * avail_event) from reading the driver's suppression fields.
 *
 * <p>Threading: the avail side ({@link #pop}, {@link #pending}, {@link #enableNotification},
 * {@link #disableNotification}, {@link #nextAvail}) belongs to one thread (the queue's worker); the used side ({@link
 * #addUsed}, {@link #publishUsed}, {@link #needsNotification}) to one thread at a time, which
 * may be another one (requests completed by helper threads under a lock). A hostile avail ring (an index that
 * moves more than the queue size, a head outside the table) breaks the queue: {@link
 * #broken()} says why, and the owner marks the device NEEDS_RESET or stops the ring.
 */
public final class SplitQueue {
    public static final int MAX_SIZE = 32768;
    public static final int VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    public static final int VIRTQ_USED_F_NO_NOTIFY = 1;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_VH = U16.varHandle();

    private final int size;
    private final int mask;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final GuestMemory memory;
    private final boolean eventIdx;
    private final long usedEventOffset;
    private final long availEventOffset;

    private int nextAvail;
    /**
     * The driver's avail index as last read. Entries before it were published before that
     * (acquire) read, so {@link #pop} takes them without reading the index again: that cache
     * line is written by the driver on another CPU, and re-reading it per chain cost a
     * transfer per chain under load.
     */
    private int shadowAvail;
    private int nextUsed;
    private int signalledUsed;
    /** Whether {@link #disableNotification} asked the driver not to kick (avail side). */
    private boolean kicksDisabled;
    private String broken;

    private SplitQueue(int size, MemorySegment desc, MemorySegment avail, MemorySegment used,
                       GuestMemory memory, boolean eventIdx) {
        this.size = size;
        this.mask = size - 1;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
        this.memory = memory;
        this.eventIdx = eventIdx;
        this.usedEventOffset = 4 + 2L * size;
        this.availEventOffset = 4 + 8L * size;
    }

    /** Bytes of the descriptor table for {@code size} entries (§2.7.5). */
    public static long descTableBytes(int size) {
        return 16L * size;
    }

    /** Bytes of the available ring including used_event (§2.7.6). */
    public static long availRingBytes(int size) {
        return 6 + 2L * size;
    }

    /** Bytes of the used ring including avail_event (§2.7.8). */
    public static long usedRingBytes(int size) {
        return 6 + 8L * size;
    }

    /**
     * A queue over already-translated rings. Throws IllegalArgumentException when the size
     * is not a power of two in [1, 32768] (§2.7), a ring view is too small, or a ring is
     * misaligned (§2.7: 16, 2 and 4 bytes) — the caller reports that as a setup error.
     */
    public static SplitQueue create(int size, MemorySegment desc, MemorySegment avail, MemorySegment used,
                                    GuestMemory memory, boolean eventIdx) {
        if (size <= 0 || size > MAX_SIZE || (size & (size - 1)) != 0) {
            throw new IllegalArgumentException("queue size " + size + " is not a power of two in [1, " + MAX_SIZE + "]");
        }
        if (desc.byteSize() < descTableBytes(size) || avail.byteSize() < availRingBytes(size)
                || used.byteSize() < usedRingBytes(size)) {
            throw new IllegalArgumentException("ring smaller than the queue size needs");
        }
        if (desc.address() % 16 != 0 || avail.address() % 2 != 0 || used.address() % 4 != 0) {
            throw new IllegalArgumentException("misaligned ring (descriptor table 16, avail 2, used 4 bytes)");
        }
        return new SplitQueue(size, desc, avail, used, memory, eventIdx);
    }

    public int size() {
        return size;
    }

    public GuestMemory memory() {
        return memory;
    }

    public boolean eventIdx() {
        return eventIdx;
    }

    /** The next avail index the device will consume (vhost-user GET_VRING_BASE). */
    public int nextAvail() {
        return nextAvail;
    }

    /**
     * Starts consuming at {@code index} (vhost-user SET_VRING_BASE). The used index is
     * continued from what the ring says, so a reconnected backend carries on.
     */
    public void setNextAvail(int index) {
        nextAvail = index & 0xFFFF;
        shadowAvail = nextAvail;
        nextUsed = Short.toUnsignedInt(used.get(U16, 2));
        signalledUsed = nextUsed;
    }

    public int nextUsed() {
        return nextUsed;
    }

    /** Null while healthy; otherwise why this queue stopped (the device needs a reset). */
    public String broken() {
        return broken;
    }

    /** Number of chains the driver has made available and the device not yet popped. */
    public int pending() {
        if (broken != null) {
            return 0;
        }
        int availIdx = Short.toUnsignedInt((short) U16_VH.getAcquire(avail, 2L));
        int n = (availIdx - nextAvail) & 0xFFFF;
        if (n > size) {
            broken = "avail index moved " + n + " entries ahead of a " + size + "-entry queue";
            return 0;
        }
        shadowAvail = availIdx;
        return n;
    }

    /**
     * Pops the next available chain into {@code chain}. Returns false when nothing is
     * available (or the queue is broken). When true, {@code chain.error()} says whether the
     * chain is usable; a malformed chain must still be completed with {@link #addUsed}
     * (length 0) so the driver gets its descriptors back.
     */
    public boolean pop(DescriptorChain chain) {
        if (broken != null || shadowAvail == nextAvail && pending() == 0) {
            return false;
        }
        int head = Short.toUnsignedInt(avail.get(U16, 4 + 2L * (nextAvail & mask)));
        if (head >= size) {
            broken = "avail ring names descriptor " + head + " of a " + size + "-entry table";
            return false;
        }
        nextAvail = (nextAvail + 1) & 0xFFFF;
        chain.walk(desc, size, head, memory);
        return true;
    }

    /** Writes a used element; it becomes visible to the driver at {@link #publishUsed}. */
    public void addUsed(int head, int writtenBytes) {
        long off = 4 + 8L * (nextUsed & mask);
        used.set(U32, off, head);
        used.set(U32, off + 4, writtenBytes);
        nextUsed = (nextUsed + 1) & 0xFFFF;
    }

    /** Stores the used index with release semantics: elements before it are visible first. */
    public void publishUsed() {
        U16_VH.setRelease(used, 2L, (short) nextUsed);
    }

    /**
     * Whether the driver wants an interrupt for what was published since the last time this
     * returned true (§2.7.10 used_event / VIRTQ_AVAIL_F_NO_INTERRUPT).
     */
    public boolean needsNotification() {
        VarHandle.fullFence();
        int old = signalledUsed;
        int now = nextUsed;
        if (old == now) {
            return false;
        }
        if (eventIdx) {
            int usedEvent = Short.toUnsignedInt(avail.get(U16, usedEventOffset));
            signalledUsed = now;
            // vring_need_event: notify iff used_event lies in [old, now).
            return ((now - usedEvent - 1) & 0xFFFF) < ((now - old) & 0xFFFF);
        }
        signalledUsed = now;
        return (Short.toUnsignedInt(avail.get(U16, 0)) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
    }

    /**
     * Asks the driver not to kick (§2.7.10): the device is looking at the ring anyway (it is
     * draining it, or it pops it whenever it has data, as a network receive queue). Without
     * EVENT_IDX that is VIRTQ_USED_F_NO_NOTIFY in the used ring's flags, stored only when it
     * changes (the driver reads that line at every kick decision); with EVENT_IDX there is
     * nothing to write: avail_event stays at an index the driver has passed, so it kicks no
     * more until {@link #enableNotification} moves it. A busy driver then makes no system call
     * per burst and the device takes no wake-up per burst.
     */
    public void disableNotification() {
        if (!eventIdx && !kicksDisabled) {
            used.set(U16, 0, (short) VIRTQ_USED_F_NO_NOTIFY);
        }
        kicksDisabled = true;
    }

    /**
     * Before the worker sleeps: asks the driver to kick for the next chain — with EVENT_IDX
     * avail_event = next avail index, otherwise the used flags cleared (§2.7.10) — then a full
     * fence and a look at the avail index. Returns true when chains arrived in the meantime
     * (the worker must not sleep then: the driver may have decided not to kick before it saw
     * the change).
     */
    public boolean enableNotification() {
        if (eventIdx) {
            used.set(U16, availEventOffset, (short) nextAvail);
        } else {
            used.set(U16, 0, (short) 0); // always: a previous owner of the ring may have left the flag set
        }
        kicksDisabled = false;
        VarHandle.fullFence();
        return pending() > 0;
    }
}
