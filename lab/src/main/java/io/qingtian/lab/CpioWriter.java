package io.qingtian.lab;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes a cpio archive in the "newc" format, the one the Linux kernel unpacks as an
 * initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * <p>Paths are archive paths without a leading slash ({@code "bin/busybox"}; a leading
 * slash is stripped). Missing parent directories are added automatically (mode 0755),
 * because the kernel's unpacker does not create them. Timestamps are 0 and owners root,
 * so the same inputs give the same bytes. Several archives may be concatenated into one
 * initrd file; the kernel unpacks them in order, later files replacing earlier ones.
 *
 * <pre>{@code
 * try (var cpio = new CpioWriter(Files.newOutputStream(path))) {
 *     cpio.file("init", 0755, script.getBytes(UTF_8));
 *     cpio.symlink("bin/sh", "busybox");
 * } // close() writes the trailer
 * }</pre>
 */
public final class CpioWriter implements Closeable {
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFCHR = 0020000;
    private static final String TRAILER = "TRAILER!!!";

    private final OutputStream out;
    private final Set<String> directories = new HashSet<>();
    private long written;
    private int nextInode = 1;
    private boolean finished;

    /** Writes to {@code out}; {@link #close()} writes the trailer and closes {@code out}. */
    public CpioWriter(OutputStream out) {
        this.out = out;
    }

    /** A directory with permission bits {@code perm} (e.g. 0755). */
    public CpioWriter directory(String path, int perm) throws IOException {
        String p = normalize(path);
        if (directories.add(p)) {
            parents(p);
            entry(p, S_IFDIR | (perm & 07777), 2, 0, 0, 0);
        }
        return this;
    }

    /** A regular file with the given content and permission bits (0644, 0755, ...). */
    public CpioWriter file(String path, int perm, byte[] content) throws IOException {
        String p = normalize(path);
        parents(p);
        entry(p, S_IFREG | (perm & 07777), 1, content.length, 0, 0);
        out.write(content);
        written += content.length;
        pad();
        return this;
    }

    /** A regular file copied (streamed) from {@code source} on the host. */
    public CpioWriter file(String path, int perm, Path source) throws IOException {
        String p = normalize(path);
        long size = Files.size(source);
        if (size > 0xFFFF_FFFFL) {
            throw new IOException(source + " is larger than 4 GiB, the newc format's limit");
        }
        parents(p);
        entry(p, S_IFREG | (perm & 07777), 1, size, 0, 0);
        try (InputStream in = Files.newInputStream(source)) {
            long copied = in.transferTo(out);
            if (copied != size) {
                throw new IOException(source + " changed size while being archived");
            }
            written += copied;
        }
        pad();
        return this;
    }

    /** A symbolic link at {@code path} pointing to {@code target} (stored as-is). */
    public CpioWriter symlink(String path, String target) throws IOException {
        String p = normalize(path);
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        parents(p);
        entry(p, S_IFLNK | 0777, 1, t.length, 0, 0);
        out.write(t);
        written += t.length;
        pad();
        return this;
    }

    /** A character device node, e.g. {@code charDevice("dev/console", 0600, 5, 1)}. */
    public CpioWriter charDevice(String path, int perm, int major, int minor) throws IOException {
        String p = normalize(path);
        parents(p);
        entry(p, S_IFCHR | (perm & 07777), 1, 0, major, minor);
        return this;
    }

    /** Writes the trailer entry; further entries are refused. Idempotent. */
    public void finish() throws IOException {
        if (!finished) {
            header(TRAILER, 0, 0, 1, 0, 0, 0);
            finished = true;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            finish();
            out.flush();
        } finally {
            out.close();
        }
    }

    private void parents(String p) throws IOException {
        int slash = p.lastIndexOf('/');
        if (slash > 0) {
            directory(p.substring(0, slash), 0755);
        }
    }

    private void entry(String name, int mode, int nlink, long size, int rdevMajor, int rdevMinor) throws IOException {
        if (finished) {
            throw new IllegalStateException("cpio archive already finished");
        }
        header(name, nextInode++, mode, nlink, size, rdevMajor, rdevMinor);
    }

    private void header(String name, int inode, int mode, int nlink, long size, int rdevMajor, int rdevMinor)
            throws IOException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110).append("070701");
        for (long field : new long[] {inode, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, n.length + 1, 0}) {
            h.append(String.format("%08x", field));
        }
        out.write(h.toString().getBytes(StandardCharsets.US_ASCII));
        out.write(n);
        out.write(0);
        written += 110 + n.length + 1;
        pad();
    }

    private void pad() throws IOException {
        while ((written & 3) != 0) {
            out.write(0);
            written++;
        }
    }

    static String normalize(String path) {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.isEmpty() || p.equals(TRAILER)) {
            throw new IllegalArgumentException("invalid cpio path: '" + path + "'");
        }
        for (String part : p.split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IllegalArgumentException("invalid cpio path (empty, '.' or '..' component): '" + path + "'");
            }
        }
        return p;
    }
}
