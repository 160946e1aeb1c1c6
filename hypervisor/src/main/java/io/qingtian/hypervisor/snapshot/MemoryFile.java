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
     * vhost-user backends map it) and waits for it: {@link #startCopy} then {@link Copy#await}.
     */
    public static void copyInto(Path file, GuestRam ram) throws IOException {
        startCopy(file, ram, copyThreads()).await();
    }

    /** Worker threads for a copy: the host's CPUs, at most 4 (the copy is memory-bound). */
    public static int copyThreads() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    /**
     * Starts copying the memory file's data into {@code ram}'s memfd on {@code threads} worker
     * threads and returns at once, so the VM can be built meanwhile (Firecracker has no such
     * path: its VMs with vhost-user devices need a shared memfd too, and it copies up front).
     *
     * <p>Only the file's data extents are read (SEEK_DATA/SEEK_HOLE), straight into guest
     * memory, so holes cost nothing and stay unallocated in the memfd; the cost grows with the
     * data in the snapshot, unlike the mapped restore. Where the file system has no SEEK_DATA,
     * every page is read and zero pages are skipped. The file is split into stripes that the
     * workers take in turn.
     *
     * <p>The workers read into a buffer of their own and pwrite into the memfd through a file
     * descriptor of their own (/proc/self/fd reopened here), not through {@code ram}'s mapping:
     * the kernel allocates the memfd's pages inside pwrite, so the hypervisor takes no page
     * fault per 4 KiB page (reading straight into the mapping did, and a fault is expensive
     * on a nested or PVM host: measured ~0.3-0.6 GB/s here); and if the VM build fails and
     * closes {@code ram} (its mapping and its memfd) while a worker runs, the worker's own
     * descriptor still names the same memfd, so nothing else can be written. Callers must
     * {@link Copy#await} before any vCPU runs and before a back-end is given the memory.
     */
    public static Copy startCopy(Path file, GuestRam ram, int threads) throws IOException {
        if (ram.memfd() < 0) {
            throw new IllegalArgumentException("copying a memory file needs memfd-backed guest RAM");
        }
        int fd;
        try {
            fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        } catch (io.qingtian.sys.LinuxException e) {
            throw new IOException("cannot open memory file " + file + ": " + e.getMessage(), e);
        }
        int target;
        try {
            target = Libc.open("/proc/self/fd/" + ram.memfd(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        } catch (RuntimeException e) {
            Libc.closeQuietly(fd);
            throw e;
        }
        Copy c = new Copy(file, fd, target, ram.totalBytes());
        c.start(Math.max(1, threads));
        return c;
    }

    /** A running copy of a memory file into guest memory (see {@link #startCopy}). */
    public static final class Copy {
        /** Stripe size: enough work per lseek pair, fine enough to balance the workers. */
        static final long STRIPE = 32L << 20;

        private final Path file;
        private final int fd;
        /** The copy's own descriptor of the guest memfd. */
        private final int target;
        private final long size;
        private final java.util.concurrent.atomic.AtomicLong nextStripe = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicLong copied = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                new java.util.concurrent.atomic.AtomicReference<>();
        private final java.util.List<Thread> workers = new java.util.ArrayList<>();
        private final long startNanos = System.nanoTime();
        private volatile long endNanos;
        private boolean done;

        private Copy(Path file, int fd, int target, long size) {
            this.file = file;
            this.fd = fd;
            this.target = target;
            this.size = size;
        }

        private void start(int threads) {
            java.util.concurrent.CountDownLatch left = new java.util.concurrent.CountDownLatch(threads);
            for (int i = 0; i < threads; i++) {
                workers.add(Thread.ofPlatform().daemon().name("restore-copy-" + i).start(() -> {
                    try {
                        work();
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    } finally {
                        left.countDown();
                        if (left.getCount() == 0) {
                            endNanos = System.nanoTime();
                        }
                    }
                }));
            }
        }

        private void work() throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CHUNK, PAGE);
                long stripe;
                while (failure.get() == null && (stripe = nextStripe.getAndIncrement()) * STRIPE < size) {
                    long from = stripe * STRIPE;
                    long to = Math.min(size, from + STRIPE);
                    copyStripe(from, to, buf);
                }
            }
        }

        private void copyStripe(long from, long to, MemorySegment buf) throws IOException {
            long pos = from;
            while (pos < to) {
                long data;
                try {
                    data = FileExtents.nextData(fd, pos);
                } catch (io.qingtian.sys.LinuxException e) {
                    if (e.errno() != io.qingtian.sys.Errno.EINVAL) {
                        throw new IOException("cannot read memory file " + file + ": " + e.getMessage(), e);
                    }
                    copyPages(pos, to, buf); // no SEEK_DATA on this file system
                    return;
                }
                if (data < 0 || data >= to) {
                    return;
                }
                long hole = Math.min(FileExtents.nextHole(fd, data), to);
                for (long at = data; at < hole; at += CHUNK) {
                    long len = Math.min(CHUNK, hole - at);
                    readFully(at, len, buf);
                    writeFully(buf, 0, len, at);
                }
                copied.addAndGet(hole - data);
                pos = hole;
            }
        }

        private void writeFully(MemorySegment buf, long from, long len, long at) {
            long done = 0;
            while (done < len) {
                long n = Libc.pwrite(target, buf.asSlice(from + done), len - done, at + done);
                if (n <= 0) {
                    throw new SnapshotException("short write into guest memory at 0x" + Long.toHexString(at + done));
                }
                done += n;
            }
        }

        private void readFully(long at, long len, MemorySegment dst) {
            long done = 0;
            while (done < len) {
                long n = Libc.pread(fd, dst.asSlice(done), len - done, at + done);
                if (n <= 0) {
                    throw new SnapshotException("memory file " + file + " is shorter than the guest's memory");
                }
                done += n;
            }
        }

        private void copyPages(long from, long to, MemorySegment buf) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment zero = arena.allocate(PAGE, PAGE);
                for (long off = from; off < to; off += CHUNK) {
                    long len = Math.min(CHUNK, to - off);
                    readFully(off, len, buf.asSlice(0, len));
                    for (long p = 0; p < len; p += PAGE) {
                        if (MemorySegment.mismatch(buf, p, p + PAGE, zero, 0, PAGE) != -1) {
                            writeFully(buf, p, PAGE, off + p);
                            copied.addAndGet(PAGE);
                        }
                    }
                }
            }
        }

        /**
         * Waits for the workers, releases the copy's mapping and file, and reports the first
         * failure. Returns the bytes of data copied. Calling it again returns the same.
         */
        public synchronized long await() throws IOException {
            if (!done) {
                boolean interrupted = false;
                for (Thread t : workers) {
                    while (true) {
                        try {
                            t.join();
                            break;
                        } catch (InterruptedException e) {
                            interrupted = true; // the mapping must not go while a worker writes
                        }
                    }
                }
                done = true;
                Libc.closeQuietly(target);
                Libc.closeQuietly(fd);
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
            Throwable t = failure.get();
            if (t instanceof IOException e) {
                throw e;
            }
            if (t instanceof SnapshotException e) {
                throw e;
            }
            if (t instanceof io.qingtian.sys.LinuxException e) {
                throw new IOException("cannot read memory file " + file + ": " + e.getMessage(), e);
            }
            if (t != null) {
                throw new IOException("copying memory file " + file + " failed: " + t, t);
            }
            return copied.get();
        }

        /** From the start to the last worker's end (valid after {@link #await}). */
        public long nanos() {
            return endNanos - startNanos;
        }
    }
}
