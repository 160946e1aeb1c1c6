package io.qingtian.card.storage;

import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Writes zeroes through a backend's own write path, from one shared read-only zero buffer. */
final class Zeroes {
    private static final int CHUNK = 1 << 20;
    private static final MemorySegment ZERO = Arena.global().allocate(CHUNK, 4096).asReadOnly();

    private Zeroes() {}

    static void write(BlockBackend backend, long offset, long length) throws IOException {
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(CHUNK, length - done);
            backend.write(offset + done, ZERO.asSlice(0, n));
            done += n;
        }
    }
}
