package io.qingtian.hypervisor.snapshot;

import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.sys.FileExtents;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.memory.GuestRegion;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Guest memory as a sparse file laid out like the memfd (low RAM at offset 0, high RAM after
 * it), so restore can map it directly ({@link GuestRam#mapPrivateFile}). Pages that are all
 * zero are not written: they stay holes, cost no disk and read back as zeros.
 *
 * <p>Reading memfd RAM goes through pread on the memfd, not the mapping: a pread of a tmpfs
 * hole returns zeros without allocating a page, whereas touching the mapping would make
 * every never-used page of the source VM resident.
 */
public final class MemoryFile {
    static final int PAGE = 4096;
    static final int CHUNK = 2 << 20;

    private MemoryFile() {}

    /** Writes all guest RAM to {@code file} (replacing it); returns the bytes of data written (holes excluded). */
    public static long save(GuestRam ram, Path file) throws IOException {
        long written = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
             Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CHUNK, PAGE);
            MemorySegment zero = arena.allocate(PAGE, PAGE);
            long fileOffset = 0;
            for (GuestRegion r : ram.memory().regions()) {
                long size = r.mapping().byteSize();
                for (long off = 0; off < size; off += CHUNK) {
                    int len = (int) Math.min(CHUNK, size - off);
                    MemorySegment chunk;
                    if (ram.memfd() >= 0) {
                        long got = 0;
                        while (got < len) {
                            long n = Libc.pread(ram.memfd(), buf.asSlice(got), len - got, r.fdOffset() + off + got);
                            if (n <= 0) {
                                throw new IOException("short read of guest memory at 0x" + Long.toHexString(off + got));
                            }
                            got += n;
                        }
                        chunk = buf.asSlice(0, len);
                    } else {
                        chunk = r.mapping().asSlice(off, len);
                    }
                    written += writeNonZeroRuns(ch, chunk, zero, fileOffset + off);
                }
                fileOffset += size;
            }
            ch.force(false);
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(fileOffset); // trailing holes
            }
        }
        return written;
    }

    private static long writeNonZeroRuns(FileChannel ch, MemorySegment chunk, MemorySegment zero, long at) throws IOException {
        long written = 0;
        long len = chunk.byteSize();
        long runStart = -1;
        for (long p = 0; p <= len; p += PAGE) {
            boolean data = p < len && MemorySegment.mismatch(chunk, p, p + PAGE, zero, 0, PAGE) != -1;
            if (data && runStart < 0) {
                runStart = p;
            } else if (!data && runStart >= 0) {
                var bb = chunk.asSlice(runStart, p - runStart).asByteBuffer();
                long pos = at + runStart;
                while (bb.hasRemaining()) {
                    pos += ch.write(bb, pos);
                }
                written += p - runStart;
                runStart = -1;
            }
        }
        return written;
    }

    /**
     * Copies the file's data into {@code ram} (for VMs whose memory must stay a shareable memfd:
     * vhost-user backends map it). Only the file's data extents are read (SEEK_DATA/SEEK_HOLE),
     * straight into guest memory, so holes cost nothing and stay unallocated in the memfd; cost
     * grows with the data in the snapshot, unlike the mapped restore. Where the file system has
     * no SEEK_DATA, every page is read and zero pages are skipped.
     */
    public static void copyInto(Path file, GuestRam ram) throws IOException {
        int fd;
        try {
            fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        } catch (io.qingtian.sys.LinuxException e) {
            throw new IOException("cannot open memory file " + file + ": " + e.getMessage(), e);
        }
        try {
            copyExtents(fd, file, ram);
            return;
        } catch (io.qingtian.sys.LinuxException e) {
            if (e.errno() != io.qingtian.sys.Errno.EINVAL) {
                throw new IOException("cannot read memory file " + file + ": " + e.getMessage(), e);
            }
            // no SEEK_DATA here: read everything below
        } finally {
            Libc.closeQuietly(fd);
        }
        copyAllPages(file, ram);
    }

    private static void copyExtents(int fd, Path file, GuestRam ram) throws IOException {
        long fileOffset = 0;
        for (GuestRegion r : ram.memory().regions()) {
            long size = r.mapping().byteSize();
            long end = fileOffset + size;
            long pos = fileOffset;
            while (pos < end) {
                long data = FileExtents.nextData(fd, pos);
                if (data < 0 || data >= end) {
                    break;
                }
                long hole = Math.min(FileExtents.nextHole(fd, data), end);
                for (long at = data; at < hole; ) {
                    long len = Math.min(hole - at, 64L << 20);
                    long n = Libc.pread(fd, r.mapping().asSlice(at - fileOffset, len), len, at);
                    if (n <= 0) {
                        throw new SnapshotException("memory file " + file + " is shorter than the guest's memory");
                    }
                    at += n;
                }
                pos = hole;
            }
            fileOffset = end;
        }
    }

    private static void copyAllPages(Path file, GuestRam ram) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(CHUNK, PAGE);
            MemorySegment zero = arena.allocate(PAGE, PAGE);
            long fileOffset = 0;
            for (GuestRegion r : ram.memory().regions()) {
                long size = r.mapping().byteSize();
                for (long off = 0; off < size; off += CHUNK) {
                    int len = (int) Math.min(CHUNK, size - off);
                    var bb = buf.asSlice(0, len).asByteBuffer();
                    long pos = fileOffset + off;
                    while (bb.hasRemaining()) {
                        int n = ch.read(bb, pos);
                        if (n < 0) {
                            throw new SnapshotException("memory file " + file + " is shorter than the guest's memory");
                        }
                        pos += n;
                    }
                    for (long p = 0; p < len; p += PAGE) {
                        if (MemorySegment.mismatch(buf, p, p + PAGE, zero, 0, PAGE) != -1) {
                            MemorySegment.copy(buf, p, r.mapping(), off + p, PAGE);
                        }
                    }
                }
                fileOffset += size;
            }
        }
    }
}
