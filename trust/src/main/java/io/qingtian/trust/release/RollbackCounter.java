package io.qingtian.trust.release;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.SecretFiles;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The anti-rollback counter: the lowest release version the card may run. It only moves up
 * ({@link #advanceTo} ignores lower values) and is replaced atomically (temp file, fsync, rename,
 * fsync dir), so a crash leaves either the old or the new value. A missing file reads as 0. A
 * corrupt file is an error, never a reset to 0 (that would re-open downgrades).
 */
public final class RollbackCounter {
    private final Path file;

    public RollbackCounter(Path file) {
        this.file = file;
    }

    public long value() throws TrustException {
        if (!Files.exists(file)) {
            return 0;
        }
        String s = new String(KeyFiles.readSmall(file, 64), StandardCharsets.US_ASCII).strip();
        try {
            long v = Long.parseLong(s);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new TrustException(file + ": anti-rollback counter is corrupt (\"" + s + "\"); refusing to guess");
        }
    }

    /** Raises the counter to {@code version} if that is higher; returns the counter afterwards. */
    public synchronized long advanceTo(long version) throws TrustException {
        long current = value();
        if (version <= current) {
            return current;
        }
        SecretFiles.writeAtomically(file, (version + "\n").getBytes(StandardCharsets.US_ASCII),
                PosixFilePermissions.fromString("rw-r--r--"), true);
        return version;
    }
}
