package io.qingtian.virtio.queue;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The driver side of a split virtqueue (virtio 1.2 §2.7.13 "Supplying Buffers", §2.7.14
 * "Receiving Used Buffers"): what a guest driver does, for test harnesses and benchmarks
 * that play the guest. Keeps its own free list and chain shadow so it never trusts what the
 * device wrote into the descriptor table.
 */
public final class DriverQueue {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64U = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32U = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16U = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_VH = U16.varHandle();

    private final GuestMemory memory;
    private final int size;
    private final long descGpa;
    private final long availGpa;
    private final long usedGpa;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final boolean eventIdx;
    private final int[] nextFree;
    private final int[] chainLength;
    private int freeHead;
    private int freeCount;
    private int availIdx;
    private int kickedAvail;
    private int lastUsed;

    public DriverQueue(GuestMemory memory, int size, long descGpa, long availGpa, long usedGpa, boolean eventIdx)
            throws GuestMemoryException {
        this.memory = memory;
        this.size = size;
        this.descGpa = descGpa;
        this.availGpa = availGpa;
        this.usedGpa = usedGpa;
        this.desc = memory.slice(descGpa, SplitQueue.descTableBytes(size));
        this.avail = memory.slice(availGpa, SplitQueue.availRingBytes(size));
        this.used = memory.slice(usedGpa, SplitQueue.usedRingBytes(size));
        this.eventIdx = eventIdx;
        desc.fill((byte) 0);
        avail.fill((byte) 0);
        used.fill((byte) 0);
        nextFree = new int[size];
        chainLength = new int[size];
        for (int i = 0; i < size; i++) {
            nextFree[i] = i + 1;
        }
        freeHead = 0;
        freeCount = size;
    }

    public int size() {
        return size;
    }

    public long descGpa() {
        return descGpa;
    }

    public long availGpa() {
        return availGpa;
    }

    public long usedGpa() {
        return usedGpa;
    }

    public int freeCount() {
        return freeCount;
    }

    /** The avail index published next (what GET_VRING_BASE should report once all is used). */
    public int availIdx() {
        return availIdx;
    }

    /**
     * Makes a chain of {@code n} buffers available (not yet published). Readable buffers must
     * come before writable ones. Returns the head, or -1 when too few descriptors are free.
     */
    public int add(long[] addr, int[] len, boolean[] writable, int n) {
        if (n < 1 || n > freeCount) {
            return -1;
        }
        int head = freeHead;
        int d = head;
        for (int i = 0; i < n; i++) {
            int next = nextFree[d];
            long off = 16L * d;
            desc.set(U64, off, addr[i]);
            desc.set(U32, off + 8, len[i]);
            int flags = (writable[i] ? DescriptorChain.VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? DescriptorChain.VIRTQ_DESC_F_NEXT : 0);
            desc.set(U16, off + 12, (short) flags);
            desc.set(U16, off + 14, (short) (i + 1 < n ? next : 0));
            if (i + 1 < n) {
                d = next;
            } else {
                freeHead = next;
            }
        }
        freeCount -= n;
        chainLength[head] = n;
        pushAvail(head);
        return head;
    }

    /**
     * Makes a chain available through one indirect descriptor whose table (n × 16 bytes) is
     * written at {@code tableGpa} (§2.7.5.3). Returns the head or -1.
     */
    public int addIndirect(long tableGpa, long[] addr, int[] len, boolean[] writable, int n) throws GuestMemoryException {
        if (freeCount < 1) {
            return -1;
        }
        MemorySegment table = memory.slice(tableGpa, 16L * n);
        for (int i = 0; i < n; i++) {
            long off = 16L * i;
            table.set(U64U, off, addr[i]);
            table.set(U32U, off + 8, len[i]);
            int flags = (writable[i] ? DescriptorChain.VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? DescriptorChain.VIRTQ_DESC_F_NEXT : 0);
            table.set(U16U, off + 12, (short) flags);
            table.set(U16U, off + 14, (short) (i + 1 < n ? i + 1 : 0));
        }
        int head = freeHead;
        freeHead = nextFree[head];
        freeCount--;
        long off = 16L * head;
        desc.set(U64, off, tableGpa);
        desc.set(U32, off + 8, 16 * n);
        desc.set(U16, off + 12, (short) DescriptorChain.VIRTQ_DESC_F_INDIRECT);
        desc.set(U16, off + 14, (short) 0);
        chainLength[head] = 1;
        pushAvail(head);
        return head;
    }

    private void pushAvail(int head) {
        avail.set(U16, 4 + 2L * (availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
    }

    /** Publishes every added chain (release store of avail idx, §2.7.13.3). */
    public void publish() {
        U16_VH.setRelease(avail, 2L, (short) availIdx);
    }

    /** Whether the device asked to be kicked for what was published since the last kick (§2.7.13.4). */
    public boolean needsKick() {
        VarHandle.fullFence();
        int old = kickedAvail;
        int now = availIdx;
        kickedAvail = now;
        if (old == now) {
            return false;
        }
        if (eventIdx) {
            int availEvent = Short.toUnsignedInt(used.get(U16, 4 + 8L * size));
            return ((now - availEvent - 1) & 0xFFFF) < ((now - old) & 0xFFFF);
        }
        return (Short.toUnsignedInt(used.get(U16, 0)) & SplitQueue.VIRTQ_USED_F_NO_NOTIFY) == 0;
    }

    /**
     * Collects used elements into {@code ids}/{@code lens} (at most their length), returning
     * their descriptors to the free list. Returns how many.
     */
    public int poll(int[] ids, int[] lens) {
        int usedIdx = Short.toUnsignedInt((short) U16_VH.getAcquire(used, 2L));
        int n = 0;
        while (lastUsed != usedIdx && n < ids.length) {
            long off = 4 + 8L * (lastUsed & (size - 1));
            int id = used.get(U32, off);
            int len = used.get(U32, off + 4);
            if (id < 0 || id >= size || chainLength[id] == 0) {
                throw new IllegalStateException("device returned unknown descriptor id " + id);
            }
            free(id);
            ids[n] = id;
            lens[n] = len;
            n++;
            lastUsed = (lastUsed + 1) & 0xFFFF;
        }
        return n;
    }

    private void free(int head) {
        int n = chainLength[head];
        chainLength[head] = 0;
        int last = head;
        for (int i = 1; i < n; i++) {
            // While a chain is out, nextFree still links its descriptors in order.
            last = nextFree[last];
        }
        nextFree[last] = freeHead;
        freeHead = head;
        freeCount += n;
    }

    /** Whether used elements are waiting. */
    public boolean hasUsed() {
        return Short.toUnsignedInt((short) U16_VH.getAcquire(used, 2L)) != lastUsed;
    }

    /**
     * Before sleeping on the call fd: asks for an interrupt at the next used element
     * (used_event = last seen, §2.7.10). Returns true when elements already arrived.
     */
    public boolean enableInterrupts() {
        if (eventIdx) {
            avail.set(U16, 4 + 2L * size, (short) lastUsed);
        }
        VarHandle.fullFence();
        return hasUsed();
    }
}
