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
        try (ServerSocket s = new ServerSocket(0)) {
            this.port = s.getLocalPort();
        }
        this.process = new ProcessBuilder("qemu-nbd", "-f", "raw", "-x", export, "-b", "127.0.0.1", "-p",
                Integer.toString(port), "-e", "8", "-t", file.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    close();
                    throw new IOException("qemu-nbd did not start on port " + port, e);
                }
                Thread.sleep(50);
            }
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
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
