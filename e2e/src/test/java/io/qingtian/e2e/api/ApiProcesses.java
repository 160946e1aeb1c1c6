package io.qingtian.e2e.api;

import io.qingtian.lab.Lab;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Helpers for API end-to-end tests: the packaged CLI as child processes and a Unix-socket HTTP client. */
final class ApiProcesses {
    private ApiProcesses() {}

    /** Starts {@code qt ARGS...} (the packaged CLI), output to files in {@code dir}. */
    static Process qt(Path dir, String name, String... args) throws IOException {
        Path dist = Lab.defaultDist();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", dist.resolve("qingtian-cli.jar") + ":" + dist.resolve("lib") + "/*", "io.qingtian.cli.Qt"));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(dir.resolve(name + ".out").toFile()).redirectError(dir.resolve(name + ".err").toFile()).start();
    }

    /** Waits until the API answers (the socket file appears at bind, a moment before listen). */
    static void awaitSocket(Path socket, Process p) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!answers(socket)) {
            if (!p.isAlive()) {
                throw new AssertionError("hypervisor exited with " + p.exitValue() + " before its API socket appeared");
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no API socket " + socket + " after 60 s");
            }
            Thread.sleep(20);
        }
    }

    private static boolean answers(Path socket) {
        if (!Files.exists(socket)) {
            return false;
        }
        try (Client c = new Client(socket)) {
            return c.send("GET", "/", null).status() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** A bzImage whose 64-bit entry prints OK on COM1, then increments the u32 at 0x300000 forever. */
    static Path counterKernel(Path dir) throws IOException {
        byte[] code = {0x66, (byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 'O', (byte) 0xee, (byte) 0xb0, 'K', (byte) 0xee,
                (byte) 0xb0, 0x0a, (byte) 0xee, (byte) 0xff, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, (byte) 0xeb, (byte) 0xf7};
        ByteBuffer b = ByteBuffer.allocate(5 * 512 + 0x200 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 4).putShort(0x1fe, (short) 0xaa55).put(0x201, (byte) 0x6a).putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) 0x020f).put(0x211, (byte) 1).putInt(0x22c, 0x7fffffff).putInt(0x230, 0x200000);
        b.put(0x234, (byte) 1).putShort(0x236, (short) 3).putInt(0x238, 2047).putLong(0x258, 0x1000000L);
        b.putInt(0x260, 0x10000);
        b.put(5 * 512 + 0x200, code);
        return Files.write(dir.resolve("counter-bzImage"), b.array());
    }

    static final long COUNTER_OFFSET = 0x30_0000L;

    /** The guest's counter as saved in a snapshot memory file (guest-physical = file offset below 3 GiB). */
    static long counterIn(Path memFile) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(memFile)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, COUNTER_OFFSET);
            return Integer.toUnsignedLong(b.getInt(0));
        }
    }

    /** One keep-alive connection to an API socket. */
    static final class Client implements AutoCloseable {
        record Reply(int status, String body) {}

        private final SocketChannel ch;
        private final InputStream in;
        private final OutputStream out;

        Client(Path socket) throws IOException {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(socket));
            in = new BufferedInputStream(Channels.newInputStream(ch));
            out = Channels.newOutputStream(ch);
        }

        Reply send(String method, String path, String json) throws IOException {
            byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
            out.write((method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n"
                    + (json == null ? "" : "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n")
                    + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            String status = line();
            if (status == null) {
                throw new IOException("no response");
            }
            int length = 0;
            String h;
            while ((h = line()) != null && !h.isEmpty()) {
                if (h.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                    length = Integer.parseInt(h.substring(15).trim());
                }
            }
            return new Reply(Integer.parseInt(status.split(" ")[1]), new String(in.readNBytes(length), StandardCharsets.UTF_8));
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    return b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
                }
                if (c != '\r') {
                    b.write(c);
                }
            }
            return b.toString(StandardCharsets.US_ASCII);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
