package io.qingtian.hypervisor.api;

import io.qingtian.sys.UserError;
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
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qt hypervisor api SOCKET METHOD PATH [JSON]}: one request to a hypervisor's API socket
 * (what {@code curl --unix-socket} does, for hosts and lab guests without curl). Prints the
 * response body; exit status 0 for 2xx, 1 otherwise (the fault_message on stderr). With
 * {@code --repeat N} it sends the request N times on one connection and prints latencies.
 */
@Command(name = "api", mixinStandardHelpOptions = true,
        description = "Send one request to a hypervisor's Firecracker-compatible API socket.")
public final class ApiClientCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOCKET", description = "the --api-sock path")
    Path socket;

    @Parameters(index = "1", paramLabel = "METHOD", description = "GET, PUT or PATCH")
    String method;

    @Parameters(index = "2", paramLabel = "PATH", description = "e.g. / or /vm")
    String path;

    @Parameters(index = "3", arity = "0..1", paramLabel = "JSON", description = "request body")
    String body;

    @Option(names = "--repeat", paramLabel = "N", defaultValue = "1",
            description = "send N times and print min/median/p99 latency (for benchmarks)")
    int repeat;

    @Override
    public Integer call() throws Exception {
        if (repeat < 1) {
            throw new UserError("--repeat must be at least 1");
        }
        SocketChannel ch;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw new UserError("cannot connect to " + socket + ": " + e.getMessage());
        }
        try (ch; InputStream in = new BufferedInputStream(Channels.newInputStream(ch));
             OutputStream out = Channels.newOutputStream(ch)) {
            byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
            byte[] head = (method.toUpperCase(Locale.ROOT) + " " + path + " HTTP/1.1\r\nHost: localhost\r\n"
                    + (body == null ? "" : "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\n") + "\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
            long[] nanos = new long[repeat];
            int status = 0;
            String reply = "";
            for (int i = 0; i < repeat; i++) {
                long t0 = System.nanoTime();
                out.write(head);
                out.write(b);
                out.flush();
                String statusLine = line(in);
                if (statusLine == null) {
                    throw new UserError("the hypervisor closed the connection without answering");
                }
                status = Integer.parseInt(statusLine.split(" ")[1]);
                int length = 0;
                String h;
                while ((h = line(in)) != null && !h.isEmpty()) {
                    if (h.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                        length = Integer.parseInt(h.substring(15).trim());
                    }
                }
                reply = new String(in.readNBytes(length), StandardCharsets.UTF_8);
                nanos[i] = System.nanoTime() - t0;
            }
            if (repeat > 1) {
                Arrays.sort(nanos);
                System.err.printf("qt: %d requests: min %.1f us, median %.1f us, p99 %.1f us%n", repeat, nanos[0] / 1e3,
                        nanos[repeat / 2] / 1e3, nanos[Math.min(repeat - 1, (int) (repeat * 0.99))] / 1e3);
            }
            if (status >= 200 && status < 300) {
                if (!reply.isEmpty()) {
                    System.out.println(reply);
                }
                return 0;
            }
            System.err.println("qt: " + status + " " + reply);
            return 1;
        }
    }

    private static String line(InputStream in) throws IOException {
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
}
