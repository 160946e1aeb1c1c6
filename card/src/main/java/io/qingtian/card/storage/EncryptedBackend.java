package io.qingtian.card.storage;

import io.qingtian.card.crypto.AesXts;
import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * AES-XTS encryption over any backend (a file or an NBD export), laid out exactly like
 * dm-crypt plain mode with {@code aes-xts-plain64}, 512-byte sectors, offset 0: byte
 * {@code b} of the volume is in sector {@code b / 512}, encrypted with tweak = that sector number.
 *
 * <p>Reads decrypt in place in the destination (it receives the plaintext anyway). Writes
 * never touch the guest's buffer: each chunk is copied to a per-thread bounce buffer,
 * encrypted there and written down. Zeroes are plaintext zeroes, so WRITE_ZEROES and DISCARD
 * write encrypted zeroes (what dm-crypt returns after writing zeroes through the mapping).
 */
public final class EncryptedBackend implements BlockBackend {
    private static final int CHUNK = 64 * 1024;
    private final BlockBackend inner;
    private final AesXts xts;
    private final ThreadLocal<byte[]> bounce = ThreadLocal.withInitial(() -> new byte[CHUNK]);

    public EncryptedBackend(BlockBackend inner, AesXts xts) {
        this.inner = inner;
        this.xts = xts;
    }

    @Override
    public long sizeBytes() {
        return inner.sizeBytes();
    }

    @Override
    public boolean readOnly() {
        return inner.readOnly();
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        Ranges.check(offset, dst.byteSize(), inner.sizeBytes());
        inner.read(offset, dst);
        byte[] buf = bounce.get();
        long len = dst.byteSize();
        for (long done = 0; done < len; ) {
            int n = (int) Math.min(CHUNK, len - done);
            MemorySegment.copy(dst, ValueLayout.JAVA_BYTE, done, buf, 0, n);
            xts.decrypt((offset + done) / AesXts.SECTOR_SIZE, buf, 0, n);
            MemorySegment.copy(buf, 0, dst, ValueLayout.JAVA_BYTE, done, n);
            done += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        Ranges.check(offset, src.byteSize(), inner.sizeBytes());
        byte[] buf = bounce.get();
        MemorySegment bufSeg = MemorySegment.ofArray(buf);
        long len = src.byteSize();
        for (long done = 0; done < len; ) {
            int n = (int) Math.min(CHUNK, len - done);
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, done, buf, 0, n);
            xts.encrypt((offset + done) / AesXts.SECTOR_SIZE, buf, 0, n);
            inner.write(offset + done, bufSeg.asSlice(0, n));
            done += n;
        }
    }

    @Override
    public void flush() throws IOException {
        inner.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        writeZeroes(offset, length, true);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        Ranges.check(offset, length, inner.sizeBytes());
        Zeroes.write(this, offset, length);
    }

    @Override
    public String serial() {
        return inner.serial();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }

    @Override
    public String toString() {
        return "aes-xts-plain64(" + inner + ")";
    }
}
