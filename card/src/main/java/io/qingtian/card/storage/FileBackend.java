package io.qingtian.card.storage;

import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A volume stored as a raw sparse file. Positional reads and writes on one FileChannel are
 * safe from several queue workers at once; guest buffers are native segments, so
 * {@link MemorySegment#asByteBuffer()} gives direct buffers and the kernel copies straight
 * from/to guest memory. {@link #flush()} is fdatasync ({@code force(false)}): file data and
 * the size are durable, mtime need not be.
 */
public final class FileBackend implements BlockBackend {
    private final Path path;
    private final FileChannel channel;
    private final boolean readOnly;
    private final String serial;
    private volatile long size;

    private FileBackend(Path path, FileChannel channel, boolean readOnly, String serial, long size) {
        this.path = path;
        this.channel = channel;
        this.readOnly = readOnly;
        this.serial = serial;
        this.size = size;
    }

    /** Opens an existing volume file; its capacity is {@code size} (the metadata's, not the file's length). */
    public static FileBackend open(Path path, long size, boolean readOnly, String serial) throws IOException {
        FileChannel ch = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new FileBackend(path, ch, readOnly, serial, size);
    }

    /** Called by the volume manager after it changed the file's length. */
    public void updateSize(long newSize) {
        this.size = newSize;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        Ranges.check(offset, dst.byteSize(), size);
        ByteBuffer b = dst.asByteBuffer();
        long pos = offset;
        while (b.hasRemaining()) {
            int n = channel.read(b, pos);
            if (n < 0) {
                // Past the end of a file that is shorter than the volume (a crash between
                // metadata and truncate): unwritten space reads as zeroes, as in a sparse file.
                dst.asSlice(b.position()).fill((byte) 0);
                return;
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        checkWritable();
        Ranges.check(offset, src.byteSize(), size);
        ByteBuffer b = src.asByteBuffer();
        long pos = offset;
        while (b.hasRemaining()) {
            pos += channel.write(b, pos);
        }
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) {
            channel.force(false);
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        // FileChannel cannot punch holes; writing zeroes keeps the contract (reads return zeroes).
        writeZeroes(offset, length, true);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        checkWritable();
        Ranges.check(offset, length, size);
        Zeroes.write(this, offset, length);
    }

    @Override
    public String serial() {
        return serial;
    }

    @Override
    public void close() throws IOException {
        if (!channel.isOpen()) {
            return; // closing twice (a stack closed from the top and the bottom) is harmless
        }
        try {
            flush();
        } finally {
            channel.close();
        }
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException("volume " + path.getFileName() + " is read-only");
        }
    }

    @Override
    public String toString() {
        return "file:" + path;
    }
}
