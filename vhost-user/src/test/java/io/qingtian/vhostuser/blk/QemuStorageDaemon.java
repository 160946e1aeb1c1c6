package io.qingtian.vhostuser.blk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** qemu-storage-daemon exporting a raw file as vhost-user-blk: the reference back-end. */
public final class QemuStorageDaemon implements AutoCloseable {
    private final Process process;
    private final Path log;

    private QemuStorageDaemon(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    public static QemuStorageDaemon start(Path disk, Path socket, int queues, boolean writable) throws IOException, InterruptedException {
        Path log = socket.resolveSibling(socket.getFileName() + ".qsd.log");
        Process p = new ProcessBuilder(List.of("qemu-storage-daemon",
                "--blockdev", "driver=file,node-name=f0,filename=" + disk + ",cache.direct=off",
                "--blockdev", "driver=raw,node-name=d0,file=f0",
                "--export", "type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=" + socket
                        + ",writable=" + (writable ? "on" : "off") + ",num-queues=" + queues))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        // Ready means listening: the socket file appears at bind(), a moment before listen(),
        // and a connect in between is refused.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!listening(socket)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("qemu-storage-daemon did not start: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
        return new QemuStorageDaemon(p, log);
    }

    /** Whether a unix socket bound to {@code path} is listening (/proc/net/unix: flags __SO_ACCEPTCON). */
    static boolean listening(Path path) throws IOException {
        String want = " " + path.toAbsolutePath();
        for (String line : Files.readAllLines(Path.of("/proc/net/unix"))) {
            String[] f = line.trim().split("\\s+");
            if (line.endsWith(want) && f.length >= 8 && f[3].equals("00010000")) {
                return true;
            }
        }
        return false;
    }

    public String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
