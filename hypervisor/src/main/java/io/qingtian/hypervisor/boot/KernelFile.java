package io.qingtian.hypervisor.boot;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A kernel or initramfs file opened for positional reads; copies go straight into guest
 * memory (no intermediate byte[] of the whole image). I/O problems are the user's (a bad
 * path), so they become {@link UserError}s naming the file.
 */
final class KernelFile implements AutoCloseable {
    private final Path path;
    private final FileChannel ch;
    private final long size;

    private KernelFile(Path path, FileChannel ch, long size) {
        this.path = path;
        this.ch = ch;
        this.size = size;
    }

    static KernelFile open(Path path, String what) {
        try {
            FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
            return new KernelFile(path, ch, ch.size());
        } catch (NoSuchFileException e) {
            throw new UserError(what + " " + path + " does not exist");
        } catch (IOException e) {
            throw new UserError("cannot read " + what + " " + path + ": " + e.getMessage());
        }
    }

    Path path() {
        return path;
    }

    long size() {
        return size;
    }

    /** Up to {@code len} bytes at {@code pos} (fewer at the end of the file), little-endian buffer. */
    ByteBuffer read(long pos, int len) {
        ByteBuffer b = ByteBuffer.allocate((int) Math.max(0, Math.min(len, size - pos))).order(ByteOrder.LITTLE_ENDIAN);
        try {
            while (b.hasRemaining()) {
                if (ch.read(b, pos + b.position()) < 0) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new UserError("cannot read " + path + ": " + e.getMessage());
        }
        return b.flip();
    }

    /** Copies {@code dst.byteSize()} bytes from file offset {@code pos} into {@code dst}. */
    void copyTo(long pos, MemorySegment dst) {
        ByteBuffer b = dst.asByteBuffer();
        try {
            while (b.hasRemaining()) {
                int n = ch.read(b, pos + b.position());
                if (n < 0) {
                    throw new UserError(path + " is truncated (wanted " + dst.byteSize() + " bytes at " + pos + ")");
                }
            }
        } catch (IOException e) {
            throw new UserError("cannot read " + path + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        try {
            ch.close();
        } catch (IOException ignored) {
            // read-only
        }
    }
}
