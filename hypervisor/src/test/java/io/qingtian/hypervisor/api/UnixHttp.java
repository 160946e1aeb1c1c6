package io.qingtian.hypervisor.api;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

/** A minimal HTTP/1.1 client over a Unix socket, one keep-alive connection (what Firecracker clients do). */
public final class UnixHttp implements AutoCloseable {
    /** A response: status, JSON body (or "" for 204). */
    public record Reply(int status, String body) {}

    private final SocketChannel ch;
    private final InputStream in;
    private final OutputStream out;

    public UnixHttp(Path socket) throws IOException {
        ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        in = new BufferedInputStream(Channels.newInputStream(ch));
        out = Channels.newOutputStream(ch);
    }

    public Reply send(String method, String path, String json) throws IOException {
        byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
        String head = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                + (json == null ? "" : "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n") + "\r\n";
        return sendRaw((head).getBytes(StandardCharsets.US_ASCII), body);
    }

    /** Sends raw bytes (for malformed requests) and reads one response. */
    public Reply sendRaw(byte[] head, byte[] body) throws IOException {
        out.write(head);
        out.write(body);
        out.flush();
        String status = line();
        if (status == null) {
            throw new IOException("connection closed without a response");
        }
        int code = Integer.parseInt(status.split(" ")[1]);
        int length = 0;
        String h;
        while (!(h = line()).isEmpty()) {
            String lower = h.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-length:")) {
                length = Integer.parseInt(h.substring(15).trim());
            }
        }
        return new Reply(code, new String(in.readNBytes(length), StandardCharsets.UTF_8));
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
