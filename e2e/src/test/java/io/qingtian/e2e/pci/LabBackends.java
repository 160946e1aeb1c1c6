package io.qingtian.e2e.pci;

import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Several lab back-ends in one JVM inside L1, until SIGTERM:
 * {@code java -cp ... io.qingtian.e2e.pci.LabBackends disk FILE SOCKET QUEUES [ro] ... net SOCKET ...}.
 *
 * <p>Why one process: each JVM in L1 starts and JIT-compiles under QEMU TCG, which costs
 * seconds of emulated CPU and is where the emulator misexecuted code (SIGILL in C1 code being
 * patched, lab/README.md "emulator faults"). One JVM for a guest's four back-ends starts and
 * compiles the shared code once.
 */
public final class LabBackends {
    private LabBackends() {}

    public static void main(String[] args) throws Exception {
        List<AutoCloseable> running = new ArrayList<>();
        for (int i = 0; i < args.length; ) {
            switch (args[i]) {
                case "disk" -> {
                    Path file = Path.of(args[i + 1]);
                    boolean ro = i + 4 < args.length && args[i + 4].equals("ro");
                    VhostUserBlkServer s = DiskServer.serve(file, Path.of(args[i + 2]), Integer.parseInt(args[i + 3]), ro);
                    running.add(() -> DiskServer.stop(s, file));
                    i += ro ? 5 : 4;
                }
                case "net" -> {
                    running.add(EchoNet.serve(Path.of(args[i + 1])));
                    i += 2;
                }
                default -> throw new IllegalArgumentException("lab-backends: unknown back-end '" + args[i]
                        + "' (disk FILE SOCKET QUEUES [ro] | net SOCKET)");
            }
        }
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (AutoCloseable c : running) {
                try {
                    c.close();
                } catch (Exception e) {
                    System.err.println("lab-backends: " + e);
                }
            }
            done.countDown();
        }));
        done.await();
    }
}
