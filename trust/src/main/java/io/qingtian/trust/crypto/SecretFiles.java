package io.qingtian.trust.crypto;

import io.qingtian.trust.TrustException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * Files that hold secrets: created 0600 inside 0700 directories, replaced atomically
 * (write a temporary file, fsync, rename, fsync the directory), and refused on load when group
 * or others can access them, like ssh does for identity files.
 */
public final class SecretFiles {
    public static final Set<PosixFilePermission> FILE_0600 = PosixFilePermissions.fromString("rw-------");
    public static final Set<PosixFilePermission> DIR_0700 = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> GROUP_OR_OTHER = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
    /** A key file is small; anything bigger is not ours. */
    private static final long MAX_SECRET = 64 * 1024;

    private SecretFiles() {}

    /** Creates {@code dir} (and parents) if missing, 0700; refuses an existing dir others can access. */
    public static void ensurePrivateDir(Path dir) throws TrustException {
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, DIR_0700);
            }
            checkPrivate(dir, true);
        } catch (IOException e) {
            throw new TrustException(dir + ": cannot create private directory: " + e.getMessage(), e);
        }
    }

    /** Refuses {@code path} unless it is a regular file (or dir) owned by us with no group/other bits. */
    public static void checkPrivate(Path path, boolean directory) throws TrustException {
        PosixFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new TrustException(path + ": cannot read: " + e.getMessage(), e);
        }
        if (directory ? !attrs.isDirectory() : !attrs.isRegularFile()) {
            throw new TrustException(path + ": expected a " + (directory ? "directory" : "regular file")
                    + " (symbolic links are refused)");
        }
        Set<PosixFilePermission> loose = EnumSet.noneOf(PosixFilePermission.class);
        loose.addAll(attrs.permissions());
        loose.retainAll(GROUP_OR_OTHER);
        if (!loose.isEmpty()) {
            throw new TrustException(path + ": permissions " + PosixFilePermissions.toString(attrs.permissions())
                    + " are too open (group/others can access it); run chmod " + (directory ? "700" : "600") + " " + path);
        }
        // Compare numeric uids: user names need a passwd entry, which minimal systems (the lab's
        // L1, containers) do not have for every uid ("?" vs "0" would refuse our own files).
        int owner;
        int me;
        try {
            owner = (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            throw new TrustException(path + ": cannot read its owner: " + e.getMessage(), e);
        }
        if (owner != me) {
            throw new TrustException(path + ": owned by uid " + owner + ", not by this process's uid " + me);
        }
    }

    /** Reads a secret file after checking its permissions. */
    public static byte[] readPrivate(Path file) throws TrustException {
        checkPrivate(file, false);
        try {
            if (Files.size(file) > MAX_SECRET) {
                throw new TrustException(file + ": too large for a key file");
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new TrustException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Writes {@code bytes} to {@code file} atomically with mode 0600. Refuses to overwrite unless asked. */
    public static void writePrivate(Path file, byte[] bytes, boolean overwrite) throws TrustException {
        writeAtomically(file, bytes, FILE_0600, overwrite);
    }

    /** Atomic replace with the given mode: the file is either the old or the new content, never torn. */
    public static void writeAtomically(Path file, byte[] bytes, Set<PosixFilePermission> mode, boolean overwrite)
            throws TrustException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        if (!overwrite && Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            throw new TrustException(file + ": already exists (refusing to overwrite)");
        }
        Path tmp = dir.resolve("." + abs.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(FILE_0600));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(bytes));
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, mode);
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new TrustException(file + ": filesystem cannot rename atomically", e);
            }
            fsyncDir(dir);
        } catch (FileAlreadyExistsException e) {
            throw new TrustException(file + ": already exists", e);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort: the temporary name is never read
            }
            throw new TrustException(file + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** Makes a rename durable (POSIX: the directory entry lives in the directory's data). */
    static void fsyncDir(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
