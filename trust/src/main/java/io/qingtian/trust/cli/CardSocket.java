package io.qingtian.trust.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.trust.TrustException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One JSON line to the running card's control socket ({@code STATE/control.sock}) and its one-line
 * answer (card/CONTROL.md). The trust module cannot use the card's client (the card depends on
 * trust, not the reverse); the protocol is small enough to speak here.
 */
final class CardSocket {
    static final ObjectMapper JSON = new ObjectMapper();
    static final int MAX_REPLY = 1 << 20;
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private CardSocket() {}

    /** The card's control socket in {@code state}, or a {@link TrustException} saying the card is not running. */
    static Path socket(Path state) throws TrustException {
        Path sock = state.resolve("control.sock");
        if (!Files.exists(sock)) {
            throw new TrustException("the card is not running on " + state + " (no " + sock
                    + "): start `qt card run --state " + state + "`, or use --offline");
        }
        return sock;
    }

    /** Sends {@code request}; returns the reply, or throws with the card's one-line error. */
    static JsonNode call(Path sock, JsonNode request) throws TrustException {
        FutureTask<byte[]> task = new FutureTask<>(() -> exchange(sock, JSON.writeValueAsBytes(request)));
        Thread.ofVirtual().name("card-socket").start(task);
        byte[] line;
        try {
            line = task.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            task.cancel(true);
            throw new TrustException("the card at " + sock + " did not answer within " + TIMEOUT.toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TrustException("interrupted while waiting for the card");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            throw new TrustException("cannot reach the card at " + sock + ": " + (c instanceof IOException io && io.getMessage() != null
                    ? io.getMessage() : String.valueOf(c)) + " (is `qt card run` up? or use --offline)");
        }
        JsonNode reply;
        try {
            reply = JSON.readTree(line);
        } catch (IOException e) {
            throw new TrustException("the card at " + sock + " answered something that is not JSON");
        }
        if (reply == null || !reply.isObject()) {
            throw new TrustException("the card at " + sock + " answered something that is not a JSON object");
        }
        if (reply.has("error")) {
            throw new TrustException("the card refused: " + reply.get("error").asText());
        }
        return reply;
    }

    private static byte[] exchange(Path sock, byte[] request) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            ByteBuffer out = ByteBuffer.allocate(request.length + 1).put(request).put((byte) '\n').flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(8192);
            while (true) {
                in.clear();
                int n = ch.read(in);
                if (n < 0) {
                    throw new IOException("the card closed the connection without answering");
                }
                for (int i = 0; i < n; i++) {
                    byte b = in.get(i);
                    if (b == '\n') {
                        return line.toByteArray();
                    }
                    line.write(b);
                }
                if (line.size() > MAX_REPLY) {
                    throw new IOException("answer longer than " + MAX_REPLY + " bytes");
                }
            }
        }
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
