import io.qingtian.sys.Libc;
import io.qingtian.virtio.blk.BlockBackend;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Serves a raw file as a vhost-user-blk device with our VhostUserBlkServer, in its own
 * process (like qemu-storage-daemon), until killed:
 * {@code java ServeFile.java FILE SOCKET [QUEUES] [ro]}.
 */
public class ServeFile {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        Path sock = Path.of(args[1]);
        int queues = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        boolean ro = args.length > 3 && args[3].equals("ro");
        RawFile backend = new RawFile(file, ro);
        VhostUserBlkServer server = VhostUserBlkServer.start(sock, backend, queues, ro);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            System.err.println("served: " + server.stats());
            done.countDown();
        }));
        System.err.println("serving " + file + " on " + sock + " (" + queues + " queues" + (ro ? ", read-only" : "") + ")");
        done.await();
    }

    /** A plain raw file (the card has the real volume backends). */
    static final class RawFile implements BlockBackend {
        private final int fd;
        private final long size;
        private final boolean ro;

        RawFile(Path file, boolean ro) throws IOException {
            this.fd = Libc.open(file.toString(), (ro ? Libc.O_RDONLY : Libc.O_RDWR) | Libc.O_CLOEXEC, 0);
            this.size = Files.size(file) & ~511L;
            this.ro = ro;
        }

        public long sizeBytes() { return size; }
        public boolean readOnly() { return ro; }
        public String serial() { return "qt-bench"; }

        public void read(long offset, MemorySegment dst) {
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

        public void write(long offset, MemorySegment src) {
            long done = 0;
            while (done < src.byteSize()) {
                done += Libc.pwrite(fd, src.asSlice(done), src.byteSize() - done, offset + done);
            }
        }

        public void flush() { Libc.fdatasync(fd); }

        public void discard(long offset, long length) { writeZeroes(offset, length, true); }

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

        public void close() { Libc.closeQuietly(fd); }
    }
}
