package io.qingtian.vhostuser.backend;

import io.qingtian.sys.Fds;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.queue.SplitQueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The shared memory in which a back-end records which requests are in flight, so that the
 * next back-end can resubmit them after a crash (vhost-user.rst "Inflight I/O tracking",
 * split virtqueues only: packed rings are not supported by this project). The back-end
 * creates it on GET_INFLIGHT_FD, the front-end keeps it and hands it back with
 * SET_INFLIGHT_FD on every connection.
 *
 * <p>Layout, per queue, at {@link #queueStride} bytes apart (the spec's QueueRegionSplit):
 * <pre>
 *   0  u64 features        8  u16 version       10 u16 desc_num
 *   12 u16 last_batch_head 14 u16 used_idx      16 DescStateSplit desc[desc_num]
 * DescStateSplit (16 bytes):
 *   0  u8 inflight   1 u8 padding[5]   6 u16 next   8 u64 counter
 * </pre>
 * The stride rounds {@code 16 * queue_size + 2} up to 64 bytes, as libvhost-user (QEMU's
 * storage daemon) does, so a region one of them created can be handed to us and back; it is
 * always at least the 16-byte header plus the descriptor states.
 */
final class InflightRegion implements AutoCloseable {
    static final int HEADER_BYTES = 16;
    static final int DESC_STATE_BYTES = 16;
    static final long OFF_FEATURES = 0;
    static final long OFF_VERSION = 8;
    static final long OFF_DESC_NUM = 10;
    static final long OFF_LAST_BATCH_HEAD = 12;
    static final long OFF_USED_IDX = 14;
    static final long DESC_OFF_INFLIGHT = 0;
    static final long DESC_OFF_NEXT = 6;
    static final long DESC_OFF_COUNTER = 8;
    /** The only region version defined; 0 means a region never used (all zero). */
    static final int VERSION = 1;

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment mapping;
    private final MemorySegment region;
    private final int numQueues;
    private final int queueSize;

    private InflightRegion(MemorySegment mapping, MemorySegment region, int numQueues, int queueSize) {
        this.mapping = mapping;
        this.region = region;
        this.numQueues = numQueues;
        this.queueSize = queueSize;
    }

    /** Bytes one queue takes in the region. */
    static long queueStride(int queueSize) {
        long raw = (long) DESC_STATE_BYTES * queueSize + 2;
        return (raw + 63) & ~63L;
    }

    /** Bytes of a region for {@code numQueues} queues of {@code queueSize} entries. */
    static long regionBytes(int numQueues, int queueSize) {
        return queueStride(queueSize) * numQueues;
    }

    static void checkGeometry(int numQueues, int queueSize, int maxQueues) {
        if (numQueues < 1 || numQueues > maxQueues) {
            throw new IllegalArgumentException("inflight region for " + numQueues + " queues of a " + maxQueues + "-queue device");
        }
        if (queueSize < 1 || queueSize > SplitQueue.MAX_SIZE || (queueSize & (queueSize - 1)) != 0) {
            throw new IllegalArgumentException("inflight queue size " + queueSize + " is not a power of two in [1, "
                    + SplitQueue.MAX_SIZE + "]");
        }
    }

    /**
     * GET_INFLIGHT_FD: a new zeroed memfd of {@link #regionBytes} with every queue header set to
     * version 1 and desc_num = {@code queueSize}. Returns the fd (the caller sends and closes it).
     */
    static int create(int numQueues, int queueSize, int maxQueues) {
        checkGeometry(numQueues, queueSize, maxQueues);
        long size = regionBytes(numQueues, queueSize);
        int fd = Libc.memfdCreate("vhost-user-inflight", Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
        try {
            Libc.ftruncate(fd, size);
            // Sealed like QEMU seals its own: nobody holding the fd can shrink it under a
            // back-end that maps it (a later access would fault the process).
            Fds.addSeals(fd, Fds.F_SEAL_SHRINK | Fds.F_SEAL_GROW | Fds.F_SEAL_SEAL);
            MemorySegment m = Libc.mmap(size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            try {
                for (int q = 0; q < numQueues; q++) {
                    MemorySegment h = m.asSlice(q * queueStride(queueSize), queueStride(queueSize));
                    h.set(U16, OFF_VERSION, (short) VERSION);
                    h.set(U16, OFF_DESC_NUM, (short) queueSize);
                }
            } finally {
                Libc.munmap(m);
            }
            return fd;
        } catch (RuntimeException e) {
            Libc.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * SET_INFLIGHT_FD: maps {@code [offset, offset+size)} of {@code fd} (which the caller
     * closes). The fd must be at least that long, so a later access cannot fault, and the size
     * must hold {@code numQueues} queues of {@code queueSize}. IllegalArgumentException with the
     * reason otherwise.
     */
    static InflightRegion map(int fd, long size, long offset, int numQueues, int queueSize, int maxQueues) {
        checkGeometry(numQueues, queueSize, maxQueues);
        long need = regionBytes(numQueues, queueSize);
        if (size < need || offset < 0 || offset + size < offset) {
            throw new IllegalArgumentException("inflight region of " + size + " bytes at offset " + offset + " for "
                    + numQueues + " queues of " + queueSize + " (needs " + need + ")");
        }
        int seals = Fds.seals(fd);
        if (seals >= 0 && (seals & Fds.F_SEAL_SHRINK) == 0) {
            java.util.logging.Logger.getLogger(InflightRegion.class.getName()).warning(
                    "inflight region is a memfd without F_SEAL_SHRINK: a front-end that shrinks it can fault this back-end");
        }
        long have = Fds.size(fd);
        if (have < offset + size) {
            throw new IllegalArgumentException("inflight fd has " + have + " bytes, region needs " + (offset + size));
        }
        // mmap offsets must be page aligned; the region's need not be: map from 0 and slice.
        MemorySegment whole = Libc.mmap(offset + size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        return new InflightRegion(whole, whole.asSlice(offset, need), numQueues, queueSize);
    }

    /** A region over memory the caller owns (tests). */
    static InflightRegion over(MemorySegment memory, int numQueues, int queueSize) {
        checkGeometry(numQueues, queueSize, numQueues);
        return new InflightRegion(null, memory.asSlice(0, regionBytes(numQueues, queueSize)), numQueues, queueSize);
    }

    int numQueues() {
        return numQueues;
    }

    int queueSize() {
        return queueSize;
    }

    /** Queue {@code q}'s part of the region, or null when the region has none for it. */
    MemorySegment queue(int q) {
        if (q < 0 || q >= numQueues) {
            return null;
        }
        return region.asSlice(q * queueStride(queueSize), queueStride(queueSize));
    }

    /** Unmaps; only after every ring using it has stopped. */
    @Override
    public void close() {
        if (mapping != null) {
            Libc.munmap(mapping);
        }
    }
}
