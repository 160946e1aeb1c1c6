package io.qingtian.network.virtionet;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The view of one validated descriptor chain the virtio-net device needs: its head and its
 * buffers in order (guest memory, bounds-checked). Mirrors the accessors of the virtio
 * module's DescriptorChain, which adapts to it one-to-one.
 *
 * <p>The frame path uses only {@link #length}, {@link #copyTo} and {@link #copyFrom}; the
 * defaults go through {@link #buffer}, and the vhost-user adapter overrides them with the
 * DescriptorChain's own, which make no view per buffer.
 */
public interface NetChain {
    int head();

    int count();

    MemorySegment buffer(int i);

    boolean isWritable(int i);

    /** Total bytes of the driver-readable buffers. */
    default long readableBytes() {
        long total = 0;
        for (int i = 0; i < count(); i++) {
            if (!isWritable(i)) {
                total += length(i);
            }
        }
        return total;
    }

    /** Total bytes of the device-writable buffers. */
    default long writableBytes() {
        long total = 0;
        for (int i = 0; i < count(); i++) {
            if (isWritable(i)) {
                total += length(i);
            }
        }
        return total;
    }

    default long length(int i) {
        return buffer(i).byteSize();
    }

    /** Copies {@code len} bytes from buffer {@code i} at {@code offset} (inside the buffer) into {@code dst}. */
    default void copyTo(int i, long offset, byte[] dst, int dstOffset, int len) {
        MemorySegment.copy(buffer(i), ValueLayout.JAVA_BYTE, offset, dst, dstOffset, len);
    }

    /** Copies {@code len} bytes of {@code src} into buffer {@code i} at {@code offset} (inside the buffer). */
    default void copyFrom(byte[] src, int srcOffset, int i, long offset, int len) {
        MemorySegment.copy(src, srcOffset, buffer(i), ValueLayout.JAVA_BYTE, offset, len);
    }
}
