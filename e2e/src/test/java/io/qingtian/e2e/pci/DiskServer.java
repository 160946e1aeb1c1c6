package io.qingtian.e2e.pci;

import io.qingtian.sys.Libc;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.virtio.blk.BlockBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * The card's vhost-user-blk server (VhostUserBlkServer, what {@code qt card volume export}
 * runs) on a raw file, as its own process inside L1, until SIGTERM:
 * {@code java -cp ... io.qingtian.e2e.pci.DiskServer FILE SOCKET QUEUES [ro]}.
 */
public final class DiskServer {
    private DiskServer() {}

    public static void main(String[] args) throws Exception {
        VhostUserBlkServer server = serve(Path.of(args[0]), Path.of(args[1]), Integer.parseInt(args[2]),
                args.length > 3 && args[3].equals("ro"));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop(server, Path.of(args[0]));
            done.countDown();
        }));
        done.await();
    }

    /** Serves {@code file} on {@code socket} until {@link #stop}. */
    static VhostUserBlkServer serve(Path file, Path socket, int queues, boolean ro) throws Exception {
        int fd = Libc.open(file.toString(), (ro ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC, 0);
        long size = Files.size(file) & ~511L;
        BlockBackend backend = new BlockBackend() {
            @Override public long sizeBytes() { return size; }
            @Override public boolean readOnly() { return ro; }
            @Override public String serial() { return "qt-e2e-" + file.getFileName(); }
            @Override public void read(long offset, MemorySegment dst) {
                long done = 0;
                while (done < dst.byteSize()) {
                    long n = Libc.pread(fd, dst.asSlice(done), dst.byteSize() - done, offset + done);
                    if (n == 0) {
                        dst.asSlice(done).fill((byte) 0);
                        return;
                    }
                    done += n;
                }
            }
            @Override public void write(long offset, MemorySegment src) {
                long done = 0;
                while (done < src.byteSize()) {
                    done += Libc.pwrite(fd, src.asSlice(done), src.byteSize() - done, offset + done);
                }
            }
            @Override public void flush() { Libc.fdatasync(fd); }
            @Override public void discard(long offset, long length) { writeZeroes(offset, length, true); }
            @Override public void writeZeroes(long offset, long length, boolean unmap) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment z = a.allocate(Math.min(length, 1 << 20));
                    for (long at = 0; at < length; ) {
                        long n = Math.min(z.byteSize(), length - at);
                        write(offset + at, z.asSlice(0, n));
                        at += n;
                    }
                }
            }
            @Override public void close() { Libc.closeQuietly(fd); }
        };
        return VhostUserBlkServer.start(socket, backend, queues, ro);
    }

    /**
     * Stops {@code server} and prints its counters. Bounded: a request stuck in the file must
     * not keep the process alive after SIGTERM (the stuck threads are named on stderr).
     */
    static void stop(VhostUserBlkServer server, Path file) {
        boolean stopped = server.close(java.time.Duration.ofSeconds(5));
        System.out.println("disk-server " + file.getFileName() + ": " + server.stats()
                + (stopped ? "" : " (exiting with a request still in progress)"));
    }
}
