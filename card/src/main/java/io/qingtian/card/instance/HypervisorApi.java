package io.qingtian.card.instance;

import com.fasterxml.jackson.databind.JsonNode;
import io.qingtian.card.fs.Json;
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
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The card's client for one hypervisor's Firecracker-compatible API ({@code qt hypervisor run
 * --api-sock}): HTTP/1.1 over a Unix domain socket, one request per connection.
 *
 * <p>Why a minimal client on {@code java.nio}'s UNIX protocol family and not Jetty's
 * HttpClient: the JDK's HttpClient cannot speak to a Unix socket, and Jetty's can, but it
 * brings an executor, a scheduler and a selector per client — threads for a handful of small
 * requests per instance lifetime — plus a new dependency (jetty-client). The peer is our own
 * micro server (hypervisor {@code api.ApiServer}) whose dialect is exactly this: a request with
 * Content-Length, a response with Content-Length or 204. One connection per request keeps the
 * client stateless (a hypervisor that died leaves no half-read stream behind).
 *
 * <p>Every call has a deadline: a blocking channel cannot time out a read, so a shared
 * scheduler closes the channel when the deadline passes, which fails the read.
 */
public final class HypervisorApi {
    private static final ScheduledExecutorService DEADLINES = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hypervisor-api-deadlines");
        t.setDaemon(true);
        return t;
    });
    /** Responses larger than this are not ours (Firecracker's bodies are a few hundred bytes). */
    static final int MAX_RESPONSE = 1 << 20;

    private final Path socket;

    public HypervisorApi(Path socket) {
        this.socket = socket;
    }

    public Path socket() {
        return socket;
    }

    /** A non-2xx answer: Firecracker's {@code {"fault_message": "..."}}, or a transport failure (status 0). */
    public static final class Fault extends IOException {
        private final int status;
        private final String request;
        private final String faultMessage;

        Fault(int status, String request, String faultMessage) {
            super(request + ": " + (status == 0 ? "" : status + " ") + faultMessage);
            this.status = status;
            this.request = request;
            this.faultMessage = faultMessage;
        }

        /** HTTP status, or 0 when the hypervisor could not be reached or did not answer. */
        public int status() {
            return status;
        }

        /** e.g. {@code PUT /boot-source}. */
        public String request() {
            return request;
        }

        public String faultMessage() {
            return faultMessage;
        }
    }

    /** A 2xx answer: status and body ({@code null} for 204). */
    public record Reply(int status, JsonNode body) {}

    public Reply get(String path, Duration timeout) throws Fault {
        return send("GET", path, null, timeout);
    }

    public Reply put(String path, Object body, Duration timeout) throws Fault {
        return send("PUT", path, body, timeout);
    }

    public Reply patch(String path, Object body, Duration timeout) throws Fault {
        return send("PATCH", path, body, timeout);
    }

    /** True once something accepts connections on the socket. */
    public boolean listening() {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public Reply send(String method, String path, Object body, Duration timeout) throws Fault {
        String what = method + " " + path;
        byte[] b;
        try {
            b = body == null ? new byte[0] : Json.MAPPER.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot encode " + what + ": " + e.getMessage(), e);
        }
        SocketChannel ch;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw new Fault(0, what, "cannot open a socket: " + e.getMessage());
        }
        // The flag is set before the close so the failing read below can tell a deadline from
        // a broken connection; the future's isDone() is still false while the close runs.
        AtomicBoolean expired = new AtomicBoolean();
        ScheduledFuture<?> deadline = DEADLINES.schedule(() -> {
            expired.set(true);
            closeQuietly(ch);
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        try (ch) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new Fault(0, what, "cannot reach the hypervisor's API socket " + socket + ": " + e.getMessage());
            }
            OutputStream out = Channels.newOutputStream(ch);
            InputStream in = new BufferedInputStream(Channels.newInputStream(ch));
            String head = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    + (body == null ? "" : "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\n")
                    + "Accept: application/json\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            String status = line(in);
            String[] parts = status == null ? new String[0] : status.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new Fault(0, what, status == null ? "the hypervisor closed the connection without answering"
                        : "malformed status line from the hypervisor");
            }
            int code;
            try {
                code = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new Fault(0, what, "malformed status line from the hypervisor");
            }
            int length = -1;
            for (String h; (h = line(in)) != null && !h.isEmpty(); ) {
                int colon = h.indexOf(':');
                if (colon > 0 && h.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
                    try {
                        length = Integer.parseInt(h.substring(colon + 1).trim());
                    } catch (NumberFormatException e) {
                        throw new Fault(0, what, "bad Content-Length from the hypervisor");
                    }
                }
            }
            if (length > MAX_RESPONSE) {
                throw new Fault(0, what, "response of " + length + " bytes from the hypervisor is too large");
            }
            byte[] reply = length >= 0 ? in.readNBytes(length) : in.readNBytes(MAX_RESPONSE);
            JsonNode json = null;
            if (reply.length > 0) {
                try {
                    json = Json.MAPPER.readTree(reply);
                } catch (IOException e) {
                    if (code / 100 == 2) {
                        throw new Fault(0, what, "the hypervisor's answer is not JSON");
                    }
                }
            }
            if (code / 100 != 2) {
                String msg = json != null && json.hasNonNull("fault_message") ? json.get("fault_message").asText()
                        : new String(reply, StandardCharsets.UTF_8).strip();
                throw new Fault(code, what, msg.isEmpty() ? "status " + code : msg);
            }
            return new Reply(code, json);
        } catch (Fault f) {
            throw expired.get() ? noAnswer(what, timeout) : f;
        } catch (IOException e) {
            throw expired.get() ? noAnswer(what, timeout)
                    : new Fault(0, what, "connection to the hypervisor failed: " + e);
        } finally {
            deadline.cancel(false);
        }
    }

    private static Fault noAnswer(String what, Duration timeout) {
        return new Fault(0, what, "no answer within "
                + (timeout.toMillis() < 1000 ? timeout.toMillis() + " ms" : timeout.toSeconds() + " s"));
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    /** One CRLF- (or LF-) terminated header line, at most 8 KiB; null at end of stream. */
    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c < 0) {
                return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
            }
            if (c != '\r') {
                b.write(c);
            }
            if (b.size() > 8192) {
                throw new IOException("header line too long");
            }
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }
}
