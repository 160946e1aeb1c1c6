package io.qingtian.card.storage;

import java.io.IOException;

/** Request range validation shared by the backends: whole sectors, inside the volume. */
final class Ranges {
    static final int SECTOR = 512;

    private Ranges() {}

    static void check(long offset, long length, long capacity) throws IOException {
        if (offset < 0 || length < 0 || offset % SECTOR != 0 || length % SECTOR != 0) {
            throw new IOException("unaligned request: offset " + offset + " length " + length);
        }
        if (offset > capacity || length > capacity - offset) {
            throw new IOException("request beyond the end: offset " + offset + " length " + length
                    + " capacity " + capacity);
        }
    }
}
