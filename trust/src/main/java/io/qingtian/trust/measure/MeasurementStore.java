package io.qingtian.trust.measure;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.SecretFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Where the card keeps each instance's event log: {@code STATE/measurements/NAME.eventlog.json}.
 * The PCRs are never stored, only the log: they are recomputed by replay, so a stored value can
 * not disagree with its log.
 */
public final class MeasurementStore {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private final Path dir;

    public MeasurementStore(Path stateDir) {
        this.dir = stateDir.resolve("measurements");
    }

    public void save(String instance, EventLog log) throws TrustException {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new TrustException(dir + ": cannot create: " + e.getMessage(), e);
        }
        SecretFiles.writeAtomically(file(instance), log.toJson(), PosixFilePermissions.fromString("rw-r--r--"), true);
    }

    public Optional<EventLog> load(String instance) throws TrustException {
        Path f = file(instance);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        return Optional.of(EventLog.parse(f.toString(), KeyFiles.readSmall(f, 1 << 20)));
    }

    private Path file(String instance) throws TrustException {
        if (!NAME.matcher(instance).matches()) {
            throw new TrustException("invalid instance name \"" + instance + "\" (letters, digits, . _ -; at most 64)");
        }
        return dir.resolve(instance + ".eventlog.json");
    }
}
