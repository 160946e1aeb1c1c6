package io.qingtian.hypervisor.api;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * HTTP/1.1 over a Unix domain socket, serving a {@link FirecrackerApi}: what Firecracker's
 * {@code --api-sock} offers. JDK only (java.nio's UNIX protocol family), for the same reason
 * Firecracker has its own micro_http instead of a web framework: a handful of small requests
 * from one local client, where a full server's start-up time and threads would be most of the
 * hypervisor's cost (Jetty's unix-domain connector is also not in this build's dependencies).
 *
 * <p>Supported: keep-alive connections, one request at a time per connection, bodies with
 * Content-Length (at most {@link #MAX_BODY} bytes, Firecracker's limit is 51200). Anything
 * else (chunked bodies, oversized headers or bodies, garbage) gets a 400 with a fault_message
 * and the connection is closed; it never affects the VM.
 */
public final class ApiServer implements AutoCloseable {
    static final int MAX_BODY = 51200;
    static final int MAX_HEAD = 8192;

    private final Path socketPath;
    private final ServerSocketChannel server;
    private final FirecrackerApi api;
    private final Thread acceptor;
    private volatile boolean closed;

    private ApiServer(Path socketPath, ServerSocketChannel server, FirecrackerApi api) {
        this.socketPath = socketPath;
        this.server = server;
        this.api = api;
        this.acceptor = Thread.ofVirtual().name("api-accept").unstarted(this::acceptLoop);
    }

    /**
     * Binds {@code socketPath} (which must not exist: like Firecracker we do not remove a file we
     * did not create) and starts serving.
     */
    public static ApiServer start(Path socketPath, FirecrackerApi api) throws IOException {
        if (Files.exists(socketPath, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new io.qingtian.sys.UserError("API socket " + socketPath + " already exists (remove it, or choose another path)");
        }
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(socketPath));
        } catch (IOException e) {
            ch.close();
            throw new io.qingtian.sys.UserError("cannot listen on API socket " + socketPath + ": " + e.getMessage());
        }
        ApiServer s = new ApiServer(socketPath, ch, api);
        s.acceptor.start();
        return s;
    }

    public Path socketPath() {
        return socketPath;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel c = server.accept();
                Thread.ofVirtual().name("api-conn").start(() -> serve(c));
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private void serve(SocketChannel c) {
        try (c; InputStream in = new BufferedInputStream(Channels.newInputStream(c));
             OutputStream out = Channels.newOutputStream(c)) {
            while (!closed) {
                Request r;
                try {
                    r = Request.read(in);
                } catch (BadRequest e) {
                    write(out, ApiResponse.fault(400, e.getMessage()), false);
                    return;
                }
                if (r == null) {
                    return; // the client closed the connection
                }
                ApiResponse resp = api.handle(r.method, r.path, r.body);
                write(out, resp, r.keepAlive);
                if (!r.keepAlive) {
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away mid-request: nothing to answer
        }
    }

    private static void write(OutputStream out, ApiResponse resp, boolean keepAlive) throws IOException {
        byte[] body = resp.json() == null ? new byte[0] : resp.json().getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder();
        h.append("HTTP/1.1 ").append(resp.status()).append(' ').append(reason(resp.status())).append("\r\n");
        h.append("Server: QingTian-J API\r\n");
        if (!keepAlive) {
            h.append("Connection: close\r\n");
        }
        if (resp.status() != 204) {
            h.append("Content-Type: application/json\r\n");
            h.append("Content-Length: ").append(body.length).append("\r\n");
        }
        h.append("\r\n");
        out.write(h.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 204 -> "No Content";
            case 400 -> "Bad Request";
            case 500 -> "Internal Server Error";
            default -> "Status";
        };
    }

    /** A request that cannot be parsed as HTTP/1.1 within our limits. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }

    /** One parsed request. */
    record Request(String method, String path, String body, boolean keepAlive) {
        /** Reads one request, or returns null at a clean end of stream before its first byte. */
        static Request read(InputStream in) throws IOException, BadRequest {
            String requestLine = line(in, true);
            if (requestLine == null) {
                return null;
            }
            String[] parts = requestLine.split(" ");
            if (parts.length != 3 || !parts[1].startsWith("/") || !parts[2].startsWith("HTTP/1.")) {
                throw new BadRequest("malformed HTTP request line");
            }
            boolean keepAlive = parts[2].equals("HTTP/1.1");
            long length = 0;
            int headBytes = requestLine.length();
            String header;
            while (!(header = line(in, false)).isEmpty()) {
                headBytes += header.length() + 2;
                if (headBytes > MAX_HEAD) {
                    throw new BadRequest("HTTP headers longer than " + MAX_HEAD + " bytes");
                }
                int colon = header.indexOf(':');
                if (colon <= 0) {
                    throw new BadRequest("malformed HTTP header");
                }
                String name = header.substring(0, colon).trim().toLowerCase(Locale.ROOT);
                String value = header.substring(colon + 1).trim();
                switch (name) {
                    case "content-length" -> {
                        try {
                            length = Long.parseLong(value);
                        } catch (NumberFormatException e) {
                            throw new BadRequest("bad Content-Length");
                        }
                        if (length < 0) {
                            throw new BadRequest("bad Content-Length");
                        }
                        if (length > MAX_BODY) {
                            throw new BadRequest("request body of " + length + " bytes is larger than the limit of " + MAX_BODY);
                        }
                    }
                    case "transfer-encoding" -> throw new BadRequest("Transfer-Encoding is not supported; send Content-Length");
                    case "connection" -> {
                        if (value.equalsIgnoreCase("close")) {
                            keepAlive = false;
                        } else if (value.equalsIgnoreCase("keep-alive")) {
                            keepAlive = true;
                        }
                    }
                    default -> { }
                }
            }
            byte[] body = in.readNBytes((int) length);
            if (body.length != length) {
                throw new BadRequest("request body shorter than its Content-Length");
            }
            return new Request(parts[0], parts[1], length == 0 ? null : new String(body, StandardCharsets.UTF_8), keepAlive);
        }

        /** One CRLF-terminated line (a bare LF is accepted); null at end of stream if {@code eofOk} and nothing read. */
        private static String line(InputStream in, boolean eofOk) throws IOException, BadRequest {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                int c = in.read();
                if (c < 0) {
                    if (eofOk && b.size() == 0) {
                        return null;
                    }
                    throw new BadRequest("connection closed in the middle of a request");
                }
                if (c == '\n') {
                    byte[] bytes = b.toByteArray();
                    int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                    return new String(bytes, 0, n, StandardCharsets.ISO_8859_1);
                }
                b.write(c);
                if (b.size() > MAX_HEAD) {
                    throw new BadRequest("HTTP header line longer than " + MAX_HEAD + " bytes");
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
