package io.qingtian.card.nbd;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A real qemu-nbd serving one raw file on a free loopback port, for the length of a test. */
final class QemuNbd implements AutoCloseable {
    final Process process;
    final int port;
    final String export;

    QemuNbd(Path file, String export) throws IOException, InterruptedException {
        this.export = export;
        Started s = start(file, export);
        this.process = s.process();
        this.port = s.port();
    }

    private record Started(Process process, int port) {}

    /**
     * The free port is found by binding and closing it, so another process may take it before
     * qemu-nbd binds it: then qemu-nbd exits and another port is tried.
     */
    private static Started start(Path file, String export) throws IOException, InterruptedException {
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int p;
            try (ServerSocket s = new ServerSocket(0)) {
                p = s.getLocalPort();
            }
            Process q = new ProcessBuilder("qemu-nbd", "-f", "raw", "-x", export, "-b", "127.0.0.1", "-p",
                    Integer.toString(p), "-e", "8", "-t", file.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                awaitListening(q, p);
                return new Started(q, p);
            } catch (IOException e) {
                stop(q);
                last = e;
            }
        }
        throw last;
    }

    private static void awaitListening(Process q, int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
                if (q.isAlive()) {
                    return;
                }
            } catch (IOException e) {
                if (!q.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("qemu-nbd did not start on port " + port, e);
                }
            }
            if (!q.isAlive()) {
                throw new IOException("port " + port + " answered, but not our qemu-nbd (it exited)");
            }
            Thread.sleep(50);
        }
    }

    NbdTarget target() {
        return new NbdTarget("127.0.0.1", port, export);
    }

    String uri() {
        return "nbd://127.0.0.1:" + port + "/" + export;
    }

    @Override
    public void close() throws InterruptedException {
        stop(process);
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(5, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
        }
    }
}
