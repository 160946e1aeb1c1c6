package io.qingtian.e2e.pci;

import io.qingtian.e2e.RawFileDisk;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.virtio.blk.BlockBackend;
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
        BlockBackend backend = RawFileDisk.open(file, ro, "qt-e2e-" + file.getFileName());
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
