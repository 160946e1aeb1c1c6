package io.qingtian.virtio.blk;

import java.util.concurrent.atomic.LongAdder;

/**
 * Request counters of one virtio-blk device, updated by every queue worker. {@link
 * #snapshot()} gives a consistent-enough value for monitoring.
 */
public final class BlkStats {
    /** A point-in-time copy of the counters. Bytes count data only (no headers/status). */
    public record Snapshot(long reads, long readBytes, long writes, long writeBytes, long flushes,
                           long discards, long discardBytes, long writeZeroes, long writeZeroesBytes,
                           long getIds, long errors, long unsupported, long malformed) {}

    final LongAdder reads = new LongAdder();
    final LongAdder readBytes = new LongAdder();
    final LongAdder writes = new LongAdder();
    final LongAdder writeBytes = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LongAdder discards = new LongAdder();
    final LongAdder discardBytes = new LongAdder();
    final LongAdder writeZeroes = new LongAdder();
    final LongAdder writeZeroesBytes = new LongAdder();
    final LongAdder getIds = new LongAdder();
    final LongAdder errors = new LongAdder();
    final LongAdder unsupported = new LongAdder();
    final LongAdder malformed = new LongAdder();

    public Snapshot snapshot() {
        return new Snapshot(reads.sum(), readBytes.sum(), writes.sum(), writeBytes.sum(), flushes.sum(),
                discards.sum(), discardBytes.sum(), writeZeroes.sum(), writeZeroesBytes.sum(), getIds.sum(),
                errors.sum(), unsupported.sum(), malformed.sum());
    }
}
