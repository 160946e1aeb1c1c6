package io.qingtian.vhostuser.blk;

import io.qingtian.virtio.blk.BlockBackend;
import java.lang.foreign.MemorySegment;

/** Storage for tests that only watch reads: writes and the rest do nothing. */
abstract class StubBackend implements BlockBackend {
    private final long size;
    private final boolean blocking;

    StubBackend(long size, boolean blocking) {
        this.size = size;
        this.blocking = blocking;
    }

    @Override public long sizeBytes() { return size; }
    @Override public boolean readOnly() { return false; }
    @Override public boolean blocking() { return blocking; }
    @Override public String serial() { return getClass().getSimpleName(); }
    @Override public void write(long offset, MemorySegment src) {}
    @Override public void flush() {}
    @Override public void discard(long offset, long length) {}
    @Override public void writeZeroes(long offset, long length, boolean unmap) {}
    @Override public void close() {}
}
