package io.qingtian.card.qos;

import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;

/**
 * Per-volume QoS as a decorator: every data request takes one IOPS token and its length in
 * bandwidth tokens before it reaches the volume. The queue worker blocks while it waits, which
 * is the back-pressure the guest sees as latency. Flushes are not charged (they carry no data
 * and a limit must never delay durability).
 */
public final class QosBackend implements BlockBackend {
    private final BlockBackend inner;
    private final TokenBucket iops;
    private final TokenBucket bandwidth;

    /** Either bucket may be null (no limit of that kind). */
    public QosBackend(BlockBackend inner, TokenBucket iops, TokenBucket bandwidth) {
        this.inner = inner;
        this.iops = iops;
        this.bandwidth = bandwidth;
    }

    private void admit(long bytes) throws IOException {
        try {
            if (iops != null) {
                iops.acquire(1);
            }
            if (bandwidth != null && bytes > 0) {
                bandwidth.acquire(bytes);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while rate-limited");
        }
    }

    @Override
    public long sizeBytes() {
        return inner.sizeBytes();
    }

    @Override
    public boolean readOnly() {
        return inner.readOnly();
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        admit(dst.byteSize());
        inner.read(offset, dst);
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        admit(src.byteSize());
        inner.write(offset, src);
    }

    @Override
    public void flush() throws IOException {
        inner.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        admit(0);
        inner.discard(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        admit(0);
        inner.writeZeroes(offset, length, unmap);
    }

    @Override
    public String serial() {
        return inner.serial();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }

    @Override
    public String toString() {
        return "qos(" + inner + ")";
    }
}
