package io.qingtian.virtio.blk;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * What a virtio-blk device needs from the storage behind it. The card implements it for
 * local raw files, encrypted volumes and NBD volumes; the virtio-blk device model only
 * walks queues and calls these methods.
 *
 * <p>Offsets and lengths are in bytes and always multiples of 512. Buffers are slices of
 * guest memory (already bounds-checked). Implementations must be safe to call from several
 * threads at the same time: one worker per queue, and helper threads a worker hands large
 * requests to when several are pending (requests in flight together may complete in any
 * order, as virtio allows; a FLUSH covers the writes completed before it was submitted).
 */
public interface BlockBackend extends AutoCloseable {
    /** Capacity in bytes (a multiple of 512). May change after a resize. */
    long sizeBytes();

    boolean readOnly();

    /** Fills {@code dst} with the bytes at {@code offset}. */
    void read(long offset, MemorySegment dst) throws IOException;

    /** Writes {@code src} at {@code offset}. */
    void write(long offset, MemorySegment src) throws IOException;

    /** Makes every completed write durable (fdatasync or the remote equivalent). */
    void flush() throws IOException;

    /** Deallocates the range; reads of it return zeroes afterwards. */
    void discard(long offset, long length) throws IOException;

    /** Writes zeroes over the range; {@code unmap} allows deallocating it. */
    void writeZeroes(long offset, long length, boolean unmap) throws IOException;

    /**
     * True when requests wait on something slower than memory (a network server, a disk
     * without a page cache): queue workers then run every pending request concurrently on
     * helper threads instead of only large ones. A remote (NBD) volume should say true.
     */
    default boolean blocking() {
        return false;
    }

    /** A stable identifier (at most 20 bytes) returned by VIRTIO_BLK_T_GET_ID. */
    String serial();

    @Override
    void close() throws IOException;
}
