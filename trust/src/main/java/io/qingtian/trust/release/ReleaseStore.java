package io.qingtian.trust.release;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.SecretFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PublicKey;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Two install slots (A/B) of card software under {@code STATE/release/}, as in Android A/B
 * updates and AVB rollback protection:
 * <ul>
 *   <li>{@link #install} verifies a release (signature, jars, version &gt;= anti-rollback counter),
 *       copies it into the inactive slot and marks it pending;</li>
 *   <li>{@link #selectForBoot} picks the slot to start: the pending one while it has boot attempts
 *       left (each call uses one), else the last good one; every pick is re-verified;</li>
 *   <li>{@link #markGood} (after a successful start) makes the pending slot the good one and
 *       raises the counter to its version — only then does the old version become a downgrade.</li>
 * </ul>
 * Layout: {@code STATE/release/{A,B}/} (release.json, .sig, jars), {@code boot-state.json},
 * {@code rollback-counter}.
 */
public final class ReleaseStore {
    public static final int MAX_BOOT_ATTEMPTS = 3;
    public enum Slot { A, B;
        Slot other() {
            return this == A ? B : A;
        }
    }

    /** Start from {@code dir}: {@code trial} is true while it is pending (call markGood once up). */
    public record Boot(Slot slot, Path dir, long version, boolean trial) {}

    private record State(Optional<Slot> good, Optional<Slot> pending, int attempts) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path root;
    private final PublicKey releaseKey;
    private final RollbackCounter counter;

    private ReleaseStore(Path root, PublicKey releaseKey) {
        this.root = root;
        this.releaseKey = releaseKey;
        this.counter = new RollbackCounter(root.resolve("rollback-counter"));
    }

    public static ReleaseStore open(Path stateDir, PublicKey releaseKey) throws TrustException {
        Path root = stateDir.resolve("release");
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new TrustException(root + ": cannot create: " + e.getMessage(), e);
        }
        return new ReleaseStore(root, releaseKey);
    }

    public RollbackCounter counter() {
        return counter;
    }

    public Path slotDir(Slot s) {
        return root.resolve(s.name());
    }

    /** Verifies {@code releaseDir} and stages it in the inactive slot; returns the slot. */
    public synchronized Slot install(Path releaseDir) throws TrustException {
        ReleaseManifest m = ReleaseVerifier.check(releaseDir, releaseKey);
        long floor = counter.value();
        if (m.version() < floor) {
            throw new TrustException("release " + m.version() + " refused: downgrade below the anti-rollback counter " + floor);
        }
        State st = readState();
        Slot target = st.good().map(Slot::other).orElse(Slot.A);
        Path dir = slotDir(target);
        deleteTree(dir);
        try {
            Files.createDirectories(dir);
            copy(releaseDir, dir, ReleaseManifest.FILE);
            copy(releaseDir, dir, ReleaseManifest.SIGNATURE_FILE);
            for (String jar : m.jars().keySet()) {
                copy(releaseDir, dir, jar);
            }
        } catch (IOException e) {
            throw new TrustException(dir + ": cannot stage release: " + e.getMessage(), e);
        }
        ReleaseVerifier.check(dir, releaseKey); // what landed in the slot is what was verified
        writeState(new State(st.good(), Optional.of(target), 0));
        return target;
    }

    /**
     * The slot to start now. Uses one boot attempt of a pending slot; falls back to the good slot
     * when the pending one has used {@link #MAX_BOOT_ATTEMPTS} or fails verification.
     */
    public synchronized Boot selectForBoot() throws TrustException {
        State st = readState();
        long floor = counter.value();
        String pendingProblem = null;
        if (st.pending().isPresent()) {
            Slot p = st.pending().get();
            if (st.attempts() < MAX_BOOT_ATTEMPTS) {
                writeState(new State(st.good(), st.pending(), st.attempts() + 1));
                try {
                    ReleaseManifest m = verifiedAbove(p, floor);
                    return new Boot(p, slotDir(p), m.version(), true);
                } catch (TrustException e) {
                    pendingProblem = e.getMessage();
                }
            } else {
                pendingProblem = "slot " + p + " failed to start " + st.attempts() + " times";
            }
            st = new State(st.good(), Optional.empty(), 0);
            writeState(st);
        }
        if (st.good().isEmpty()) {
            throw new TrustException("no good card release to start" + (pendingProblem == null ? "" : ": " + pendingProblem));
        }
        Slot g = st.good().get();
        ReleaseManifest m = verifiedAbove(g, floor);
        return new Boot(g, slotDir(g), m.version(), false);
    }

    /** Called once the card started from {@code slot}: it becomes the good slot; the counter rises. */
    public synchronized void markGood(Slot slot) throws TrustException {
        State st = readState();
        ReleaseManifest m = ReleaseVerifier.check(slotDir(slot), releaseKey);
        if (st.pending().equals(Optional.of(slot))) {
            writeState(new State(Optional.of(slot), Optional.empty(), 0));
        } else if (!st.good().equals(Optional.of(slot))) {
            throw new TrustException("slot " + slot + " is neither pending nor good");
        }
        counter.advanceTo(m.version());
    }

    public synchronized Optional<Slot> goodSlot() throws TrustException {
        return readState().good();
    }

    private ReleaseManifest verifiedAbove(Slot s, long floor) throws TrustException {
        ReleaseManifest m = ReleaseVerifier.check(slotDir(s), releaseKey);
        if (m.version() < floor) {
            throw new TrustException("slot " + s + " holds release " + m.version() + ", below the anti-rollback counter " + floor);
        }
        return m;
    }

    private State readState() throws TrustException {
        Path f = root.resolve("boot-state.json");
        if (!Files.exists(f)) {
            return new State(Optional.empty(), Optional.empty(), 0);
        }
        try {
            JsonNode n = JSON.readTree(KeyFiles.readSmall(f, 4096));
            return new State(slot(n.get("good")), slot(n.get("pending")), n.path("attempts").asInt(0));
        } catch (IOException | IllegalArgumentException e) {
            throw new TrustException(f + ": boot state is corrupt");
        }
    }

    private static Optional<Slot> slot(JsonNode n) {
        return n == null || n.isNull() ? Optional.empty() : Optional.of(Slot.valueOf(n.asText()));
    }

    private void writeState(State st) throws TrustException {
        ObjectNode n = JSON.createObjectNode();
        n.put("good", st.good().map(Enum::name).orElse(null));
        n.put("pending", st.pending().map(Enum::name).orElse(null));
        n.put("attempts", st.attempts());
        SecretFiles.writeAtomically(root.resolve("boot-state.json"), (n + "\n").getBytes(StandardCharsets.UTF_8),
                PosixFilePermissions.fromString("rw-r--r--"), true);
    }

    private static void copy(Path from, Path to, String rel) throws IOException {
        Path dst = to.resolve(rel);
        Files.createDirectories(dst.getParent());
        Files.copy(from.resolve(rel), dst, StandardCopyOption.REPLACE_EXISTING);
    }

    private static void deleteTree(Path dir) throws TrustException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        } catch (IOException e) {
            throw new TrustException(dir + ": cannot clear slot: " + e.getMessage(), e);
        }
    }

    static Map<String, Path> jarsOf(Path dir) throws TrustException {
        return ReleaseVerifier.jarsUnder(dir);
    }
}
