package io.qingtian.virtio.queue;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.memory.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One available descriptor chain, walked and validated (virtio 1.2 §2.7.5 split descriptor
 * table, §2.7.5.3 indirect descriptors). Reused by a queue worker for every request; walking
 * allocates nothing: a buffer is kept as (its region's mapping, offset, length), and
 * {@link #copyTo}/{@link #copyFrom} move bytes without a view, checked against the
 * buffer's length here and against the region's mapping by the JDK. {@link #buffer} makes
 * a view for callers that want one (one small object per call).
 *
 * <p>Every descriptor is read once (each field into a local, so a driver rewriting the
 * table concurrently cannot make a checked value differ from a used one), every buffer is
 * translated through {@link GuestMemory} and must lie inside one region. Failures are a
 * {@link ChainError} value; walking never throws and never touches memory outside regions.
 */
public final class DescriptorChain {
    public static final int VIRTQ_DESC_F_NEXT = 1;
    public static final int VIRTQ_DESC_F_WRITE = 2;
    public static final int VIRTQ_DESC_F_INDIRECT = 4;
    static final int DESC_SIZE = 16;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int maxDescriptors;
    /** Per buffer: the mapping of the region holding it, its offset there, its length. */
    private MemorySegment[] mappings;
    private long[] offsets;
    private long[] lengths;
    private boolean[] writable;
    private int head;
    private int count;
    private int readableCount;
    private long readableBytes;
    private long writableBytes;
    private ChainError error = ChainError.NONE;

    /** @param maxDescriptors the queue size: no valid chain is longer (§2.7.5.3.1) */
    public DescriptorChain(int maxDescriptors) {
        this.maxDescriptors = maxDescriptors;
        // Grown on demand: typical chains are short and queues may be 32768 entries long.
        int initial = Math.min(maxDescriptors, 8);
        this.mappings = new MemorySegment[initial];
        this.offsets = new long[initial];
        this.lengths = new long[initial];
        this.writable = new boolean[initial];
    }

    /**
     * Walks the chain starting at {@code head} in {@code table} (queue-size descriptors).
     * Returns {@link ChainError#NONE} or the first problem found (then the chain is empty:
     * nothing of a malformed chain is ever handed to a device).
     */
    public ChainError walk(MemorySegment table, int queueSize, int head, GuestMemory memory) {
        this.head = head;
        count = 0;
        readableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
        error = walkInto(table, queueSize, head, memory);
        if (error != ChainError.NONE) {
            for (int i = 0; i < count; i++) {
                mappings[i] = null;
            }
            count = 0;
            readableCount = 0;
            readableBytes = 0;
            writableBytes = 0;
        }
        return error;
    }

    private ChainError walkInto(MemorySegment table, int tableSize, int index, GuestMemory memory) {
        boolean indirect = false;
        int steps = 0;
        int limit = tableSize;
        boolean seenWritable = false;
        while (true) {
            if (steps++ >= limit || count >= maxDescriptors) {
                return ChainError.CHAIN_TOO_LONG;
            }
            long off = (long) index * DESC_SIZE;
            long addr = table.get(U64, off);
            // len (le32), flags (le16), next (le16) in one little-endian load.
            long lfn = table.get(U64, off + 8);
            long len = lfn & 0xFFFF_FFFFL;
            int flags = (int) (lfn >>> 32) & 0xFFFF;
            int next = (int) (lfn >>> 48);
            if ((flags & VIRTQ_DESC_F_INDIRECT) != 0) {
                if (indirect) {
                    return ChainError.NESTED_INDIRECT;
                }
                if ((flags & VIRTQ_DESC_F_NEXT) != 0) {
                    return ChainError.INDIRECT_WITH_NEXT;
                }
                if (len == 0 || len % DESC_SIZE != 0) {
                    return ChainError.BAD_INDIRECT_LENGTH;
                }
                if (len / DESC_SIZE > maxDescriptors - count) {
                    return ChainError.CHAIN_TOO_LONG;
                }
                try {
                    table = memory.slice(addr, len);
                } catch (GuestMemoryException e) {
                    return ChainError.ADDRESS_OUTSIDE_MEMORY;
                }
                indirect = true;
                limit = (int) (len / DESC_SIZE);
                steps = 0;
                index = 0;
                continue;
            }
            if (len == 0) {
                return ChainError.ZERO_LENGTH;
            }
            boolean w = (flags & VIRTQ_DESC_F_WRITE) != 0;
            if (!w && seenWritable) {
                return ChainError.READABLE_AFTER_WRITABLE;
            }
            if (addr < 0 || addr + len < addr) {
                return ChainError.ADDRESS_OUTSIDE_MEMORY;
            }
            GuestRegion region = memory.regionFor(addr, len);
            if (region == null) {
                return ChainError.ADDRESS_OUTSIDE_MEMORY;
            }
            if (w) {
                writableBytes += len;
                if (writableBytes > 0xFFFF_FFFFL) {
                    return ChainError.LENGTH_OVERFLOW;
                }
                seenWritable = true;
            } else {
                readableBytes += len;
                if (readableBytes > 0xFFFF_FFFFL) {
                    return ChainError.LENGTH_OVERFLOW;
                }
                readableCount++;
            }
            if (count == mappings.length) {
                int grown = Math.min(maxDescriptors, mappings.length * 2);
                mappings = java.util.Arrays.copyOf(mappings, grown);
                offsets = java.util.Arrays.copyOf(offsets, grown);
                lengths = java.util.Arrays.copyOf(lengths, grown);
                writable = java.util.Arrays.copyOf(writable, grown);
            }
            mappings[count] = region.mapping();
            offsets[count] = addr - region.guestAddress();
            lengths[count] = len;
            writable[count] = w;
            count++;
            if ((flags & VIRTQ_DESC_F_NEXT) == 0) {
                return ChainError.NONE;
            }
            if (next >= limit) {
                return ChainError.NEXT_OUT_OF_RANGE;
            }
            index = next;
        }
    }

    /** The head descriptor index: the id the used element must carry. */
    public int head() {
        return head;
    }

    public ChainError error() {
        return error;
    }

    /** Number of accepted descriptors (readable ones first, then writable). */
    public int count() {
        return count;
    }

    public int readableCount() {
        return readableCount;
    }

    /** Total bytes of all buffers (readable and writable). */
    public long totalBytes() {
        return readableBytes + writableBytes;
    }

    public int writableCount() {
        return count - readableCount;
    }

    public long readableBytes() {
        return readableBytes;
    }

    public long writableBytes() {
        return writableBytes;
    }

    /** The bounds-checked guest buffer of descriptor {@code i} (0 ≤ i < count). */
    public MemorySegment buffer(int i) {
        check(i);
        return mappings[i].asSlice(offsets[i], lengths[i]);
    }

    /** Length in bytes of descriptor {@code i}'s buffer (0 ≤ i < count). */
    public long length(int i) {
        check(i);
        return lengths[i];
    }

    /**
     * Copies {@code len} bytes from buffer {@code i} at {@code offset} into {@code dst}; the
     * range must lie inside the buffer (else {@link IndexOutOfBoundsException}, nothing copied).
     */
    public void copyTo(int i, long offset, byte[] dst, int dstOffset, int len) {
        checkRange(i, offset, len);
        MemorySegment.copy(mappings[i], ValueLayout.JAVA_BYTE, offsets[i] + offset, dst, dstOffset, len);
    }

    /** Copies {@code len} bytes of {@code src} into buffer {@code i} at {@code offset} (inside the buffer). */
    public void copyFrom(byte[] src, int srcOffset, int i, long offset, int len) {
        checkRange(i, offset, len);
        MemorySegment.copy(src, srcOffset, mappings[i], ValueLayout.JAVA_BYTE, offsets[i] + offset, len);
    }

    private void check(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException(i);
        }
    }

    private void checkRange(int i, long offset, int len) {
        check(i);
        if (offset < 0 || len < 0 || offset > lengths[i] - len) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + len + " outside buffer " + i
                    + " of " + lengths[i] + " bytes");
        }
    }

    public boolean isWritable(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException(i);
        }
        return writable[i];
    }
}
