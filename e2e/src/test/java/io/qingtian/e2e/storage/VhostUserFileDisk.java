package io.qingtian.e2e.storage;

import io.qingtian.sys.Libc;
import io.qingtian.virtio.blk.BlockBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** A raw file as a BlockBackend for the vhost-user guest tests (the card has the real volumes). */
final class VhostUserFileDisk implements BlockBackend {
    private final int fd;
    private final long size;
    private final String serial;

    VhostUserFileDisk(Path file, long size, String serial) {
        this.fd = Libc.open(file.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0644);
        Libc.ftruncate(fd, size);
        this.size = size;
        this.serial = serial;
    }

    @Override public long sizeBytes() { return size; }
    @Override public boolean readOnly() { return false; }
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
