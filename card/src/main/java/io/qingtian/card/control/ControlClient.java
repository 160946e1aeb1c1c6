package io.qingtian.card.control;

import io.qingtian.card.fs.Json;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** The CLI's side of the control socket: one request, one response. */
public final class ControlClient implements AutoCloseable {
    private final SocketChannel channel;
    private final LineChannel lines;

    private ControlClient(SocketChannel channel) {
        this.channel = channel;
        this.lines = new LineChannel(channel);
    }

    /** Connects to the card running on {@code stateDir}, or explains in one line why not. */
    public static ControlClient connect(Path stateDir) {
        Path sock = stateDir.resolve("control.sock");
        if (!Files.exists(sock)) {
            throw new UserError("card not running at " + stateDir + " (no control.sock)");
        }
        try {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(sock));
            } catch (IOException e) {
                ch.close();
                throw new UserError("card not running at " + stateDir + " (control.sock refuses connections: " + e.getMessage() + ")");
            }
            return new ControlClient(ch);
        } catch (IOException e) {
            throw new UserError("cannot open a unix socket: " + e.getMessage());
        }
    }

    public ControlResponse call(ControlRequest request) {
        try {
            lines.writeLine(Json.MAPPER.writeValueAsBytes(request));
            String line = lines.readLine();
            if (line == null) {
                throw new UserError("card closed the control connection without answering");
            }
            return Json.MAPPER.readValue(line, ControlResponse.class);
        } catch (IOException e) {
            throw new UserError("control socket: " + e.getMessage());
        }
    }

    /** Like {@link #call} but a {@link ControlResponse.Failure} becomes a {@link UserError}. */
    public ControlResponse callOrFail(ControlRequest request) {
        ControlResponse r = call(request);
        if (r instanceof ControlResponse.Failure f) {
            throw new UserError(f.error());
        }
        return r;
    }

    /** One raw JSON line each way (the network commands' transport, see NetworkWire.client). */
    public String callRaw(String json) {
        try {
            String line = rawCall(json);
            if (line == null) {
                throw new UserError("card closed the control connection without answering");
            }
            return line;
        } catch (IOException e) {
            throw new UserError("control socket: " + e.getMessage());
        }
    }

    /** Sends raw text (tests of malformed input). */
    String rawCall(String line) throws IOException {
        lines.writeLine(line.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return lines.readLine();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
