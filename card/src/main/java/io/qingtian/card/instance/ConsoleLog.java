package io.qingtian.card.instance;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The serial console of one instance, copied from the hypervisor's stdout/stderr into
 * {@code STATE/instances/ID/console.log}, ring-limited: when the file passes {@code 2 * cap}
 * bytes it is cut to its last {@code cap} bytes (a chatty guest cannot fill the card's disk).
 */
public final class ConsoleLog {
    public static final int DEFAULT_CAP = 512 * 1024;
    private final Path file;
    private final int cap;

    public ConsoleLog(Path file, int cap) {
        this.file = file;
        this.cap = cap;
    }

    /** Copies until EOF (the process exited); runs on its own virtual thread. */
    public void pump(InputStream in) {
        byte[] buf = new byte[8192];
        try (in) {
            OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    synchronized (this) {
                        out.write(buf, 0, n);
                        out.flush();
                        if (Files.size(file) > 2L * cap) {
                            out.close();
                            trim();
                            out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                        }
                    }
                }
            } finally {
                out.close();
            }
        } catch (IOException e) {
            // the pipe or the file went away: the supervisor records the exit anyway
        }
    }

    private void trim() throws IOException {
        byte[] all = Files.readAllBytes(file);
        int from = Math.max(0, all.length - cap);
        Files.write(file, java.util.Arrays.copyOfRange(all, from, all.length));
    }

    /** The last {@code max} bytes. */
    public synchronized byte[] tail(int max) throws IOException {
        if (!Files.exists(file)) {
            return new byte[0];
        }
        byte[] all = Files.readAllBytes(file);
        int from = Math.max(0, all.length - max);
        return java.util.Arrays.copyOfRange(all, from, all.length);
    }
}
