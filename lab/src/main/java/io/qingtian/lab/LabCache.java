package io.qingtian.lab;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The project cache: {@code $QT_CACHE}, else {@code ~/.cache/qingtian}. Everything the lab
 * fetches or builds lives here under a key (package version or a content hash of the inputs),
 * so a second run downloads nothing and rebuilds only what changed.
 *
 * <p>Entries are made in a temporary sibling and renamed into place, so an interrupted build
 * never leaves a half-written entry that a later run would trust.
 */
public final class LabCache {
    private final Path root;

    public LabCache(Path root) {
        this.root = root;
    }

    /** The default cache: {@code $QT_CACHE} or {@code ~/.cache/qingtian}. */
    public static LabCache defaultCache() {
        String env = System.getenv("QT_CACHE");
        Path root = env != null && !env.isBlank()
                ? Path.of(env)
                : Path.of(System.getProperty("user.home"), ".cache", "qingtian");
        return new LabCache(root.toAbsolutePath());
    }

    public Path root() {
        return root;
    }

    /** {@code root/area/key}; not created. */
    public Path entry(String area, String key) {
        return root.resolve(area).resolve(key);
    }

    /** Builds the directory {@code root/area/key} with {@code builder} unless it already exists. */
    public Path directory(String area, String key, Builder builder) throws IOException {
        Path target = entry(area, key);
        if (Files.isDirectory(target)) {
            return target;
        }
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempDirectory(target.getParent(), key + ".tmp");
        try {
            builder.build(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (!Files.isDirectory(target)) {
                throw e;
            }
            // Another lab run built the same entry at the same time; theirs is as good as ours.
        } finally {
            deleteTree(tmp);
        }
        return target;
    }

    /** Builds the file {@code root/area/key} with {@code builder} unless it already exists. */
    public Path file(String area, String key, Builder builder) throws IOException {
        Path target = entry(area, key);
        if (Files.isRegularFile(target)) {
            return target;
        }
        Files.createDirectories(target.getParent());
        Path tmp = Files.createTempFile(target.getParent(), key, ".tmp");
        try {
            builder.build(tmp);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /**
     * Deletes all but the {@code keep} newest entries (files or directories) named {@code prefix*}
     * in {@code area}, so entries keyed by inputs that change (the project's jars, the JDK module
     * set) do not pile up. Temporary entries being built ({@code *.tmp*}) are left alone.
     */
    public void prune(String area, String prefix, int keep) throws IOException {
        Path dir = root.resolve(area);
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<Path> old;
        try (Stream<Path> s = Files.list(dir)) {
            old = s.filter(p -> p.getFileName().toString().startsWith(prefix) && !p.getFileName().toString().contains(".tmp"))
                    .sorted(java.util.Comparator.comparing((Path p) -> {
                        try {
                            return Files.getLastModifiedTime(p).toMillis();
                        } catch (IOException e) {
                            return 0L;
                        }
                    }).reversed())
                    .skip(keep).toList();
        }
        for (Path p : old) {
            deleteTree(p);
        }
    }

    /**
     * Deletes temporary entries ({@code *.tmp*}) older than an hour in {@code area}: what a lab
     * killed in the middle of a build left behind.
     */
    public void sweepStale(String area) throws IOException {
        Path dir = root.resolve(area);
        if (!Files.isDirectory(dir)) {
            return;
        }
        long cutoff = System.currentTimeMillis() - 3_600_000L;
        List<Path> stale;
        try (Stream<Path> s = Files.list(dir)) {
            stale = s.filter(p -> p.getFileName().toString().contains(".tmp")).toList();
        }
        for (Path p : stale) {
            if (Files.getLastModifiedTime(p).toMillis() < cutoff) {
                deleteTree(p);
            }
        }
    }

    /** Fills a fresh path (an empty directory, or a file to overwrite). */
    @FunctionalInterface
    public interface Builder {
        void build(Path into) throws IOException;
    }

    /** A short hex SHA-256 over the given strings and file contents (directories recursively). */
    public static String hash(List<?> parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (Object part : parts) {
                if (part instanceof Path p) {
                    hashPath(md, p);
                } else {
                    md.update(String.valueOf(part).getBytes(StandardCharsets.UTF_8));
                }
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void hashPath(MessageDigest md, Path p) throws IOException {
        if (Files.isDirectory(p)) {
            List<Path> files;
            try (Stream<Path> s = Files.walk(p)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path f : files) {
                md.update(p.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
                hashFile(md, f);
            }
        } else {
            hashFile(md, p);
        }
    }

    private static void hashFile(MessageDigest md, Path f) throws IOException {
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(f)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
    }

    /** Deletes a file or directory tree if present; entries that vanish meanwhile are fine. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(p)) {
            all = s.sorted(java.util.Comparator.reverseOrder()).toList();
        } catch (java.nio.file.NoSuchFileException | UncheckedIOException e) {
            if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw e instanceof UncheckedIOException u ? u.getCause() : (IOException) e;
            }
            return;
        }
        for (Path x : all) {
            Files.deleteIfExists(x);
        }
    }
}
