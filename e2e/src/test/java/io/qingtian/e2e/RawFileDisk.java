package io.qingtian.e2e;

import io.qingtian.sys.Libc;
import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A raw file as a {@link BlockBackend}, with pread/pwrite on one fd (safe from several queue
 * workers at once): the disk of the e2e tests that serve a file with the card's vhost-user-blk
 * server without a card (the card has the real volume back-ends). Reads past the end of the
 * file return zeroes, as in a sparse file; discard writes zeroes.
 */
public class RawFileDisk implements BlockBackend {
    private final int fd;
    private final long size;
    private final boolean readOnly;
    private final String serial;

    /**
     * Opens {@code file}; with {@code size} >= 0 it is created if missing and set to that
     * length, with -1 the capacity is its current length (rounded down to 512).
     */
    protected RawFileDisk(Path file, long size, boolean readOnly, String serial) {
        boolean create = size >= 0;
        int flags = (readOnly ? Libc.O_RDONLY : Libc.O_RDWR) | (create ? Libc.O_CREAT : 0) | Libc.O_CLOEXEC;
        this.fd = Libc.open(file.toString(), flags, 0644);
        try {
            if (create) {
                Libc.ftruncate(fd, size);
                this.size = size;
            } else {
                this.size = Files.size(file) & ~511L;
            }
        } catch (IOException e) {
            Libc.closeQuietly(fd);
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            Libc.closeQuietly(fd);
            throw e;
        }
        this.readOnly = readOnly;
        this.serial = serial;
    }

    /** An existing file, its capacity its length (rounded down to 512). */
    public static RawFileDisk open(Path file, boolean readOnly, String serial) {
        return new RawFileDisk(file, -1, readOnly, serial);
    }

    /** A writable file of exactly {@code size} bytes, created if missing. */
    public static RawFileDisk create(Path file, long size, String serial) {
        return new RawFileDisk(file, size, false, serial);
    }

    @Override public long sizeBytes() { return size; }
    @Override public boolean readOnly() { return readOnly; }
    @Override public String serial() { return serial; }

    @Override
    public void read(long offset, MemorySegment dst) {
        for (long done = 0; done < dst.byteSize(); ) {
            long n = Libc.pread(fd, dst.asSlice(done), dst.byteSize() - done, offset + done);
            if (n == 0) {
                dst.asSlice(done).fill((byte) 0);
                return;
            }
            done += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment src) {
        for (long done = 0; done < src.byteSize(); ) {
            done += Libc.pwrite(fd, src.asSlice(done), src.byteSize() - done, offset + done);
        }
    }

    @Override public void flush() { Libc.fdatasync(fd); }
    @Override public void discard(long offset, long length) { writeZeroes(offset, length, true); }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment z = a.allocate(Math.min(length, 1 << 20));
            for (long done = 0; done < length; ) {
                long n = Math.min(z.byteSize(), length - done);
                write(offset + done, z.asSlice(0, n));
                done += n;
            }
        }
    }

    @Override public void close() { Libc.closeQuietly(fd); }
}
