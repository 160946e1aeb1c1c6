package io.qingtian.card.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.FileAttribute;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Who did what: one JSON object per line, appended (O_APPEND) to {@code STATE/control/audit.log}
 * (0600) before the response is sent: {@code time, tenant, token, method, path, status, outcome}.
 * The card only ever appends; rotation is the operator's (copy and truncate while the card runs).
 * Tokens appear by id, never by secret; request bodies are not logged (they may hold keys).
 */
public final class AuditLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final FileChannel out;

    public AuditLog(Path file) throws IOException {
        FileAttribute<?> mode = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
        this.out = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND), mode);
    }

    /** One record; {@code tenant}/{@code token} are null for unauthenticated requests. */
    public void record(String tenant, String token, String method, String path, int status, String outcome) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("time", Instant.now().toString());
        m.put("tenant", tenant);
        m.put("token", token);
        m.put("method", method);
        m.put("path", path);
        m.put("status", status);
        m.put("outcome", outcome);
        try {
            byte[] line = (JSON.writeValueAsString(m) + "\n").getBytes(StandardCharsets.UTF_8);
            synchronized (this) {
                ByteBuffer b = ByteBuffer.wrap(line);
                while (b.hasRemaining()) {
                    out.write(b);
                }
            }
        } catch (IOException e) {
            System.err.println("audit log write failed: " + e.getMessage());
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.force(true);
        out.close();
    }
}
