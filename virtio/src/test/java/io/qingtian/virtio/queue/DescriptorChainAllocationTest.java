package io.qingtian.virtio.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Walking a chain and copying its buffers allocates nothing (a network queue does this per
 * frame), and the copies stay inside each buffer.
 */
class DescriptorChainAllocationTest {
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long BASE = 0x10000;

    private final MemorySegment ram = Arena.ofAuto().allocate(0x4000, 16);
    private final GuestMemory memory = new GuestMemory(List.of(new GuestRegion(BASE, ram, -1, 0)));
    private final MemorySegment table = ram.asSlice(0, 16 * 4);

    private void desc(int i, long addr, int len, int flags, int next) {
        table.set(U64, 16L * i, addr);
        table.set(U32, 16L * i + 8, len);
        table.set(U16, 16L * i + 12, (short) flags);
        table.set(U16, 16L * i + 14, (short) next);
    }

    @Test
    void walkAndCopyAllocateNothing() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        desc(0, BASE + 0x100, 12, DescriptorChain.VIRTQ_DESC_F_NEXT, 1);
        desc(1, BASE + 0x200, 64, DescriptorChain.VIRTQ_DESC_F_WRITE, 0);
        ram.asSlice(0x100, 12).fill((byte) 7);
        DescriptorChain c = new DescriptorChain(4);
        byte[] hdr = new byte[12];
        byte[] frame = new byte[64];
        int n = 200_000;
        // The least allocating round once the JIT compiled the path (interpreted code may box).
        long allocated = Long.MAX_VALUE;
        for (int round = 0; round < 30 && allocated >= n / 100; round++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < n; i++) {
                walkAndCopy(c, hdr, frame);
            }
            allocated = Math.min(allocated, threads.getCurrentThreadAllocatedBytes() - before);
        }

        assertThat(hdr).containsOnly(7);
        assertThat(ram.get(ValueLayout.JAVA_BYTE, 0x200 + 63)).isEqualTo((byte) 7);
        assertThat(allocated).as("bytes allocated for %d walks", n).isLessThan(n / 100);
    }

    private void walkAndCopy(DescriptorChain c, byte[] hdr, byte[] frame) {
        if (c.walk(table, 4, 0, memory) != ChainError.NONE) {
            throw new AssertionError(c.error());
        }
        c.copyTo(0, 0, hdr, 0, (int) c.length(0));
        frame[63] = hdr[0];
        c.copyFrom(frame, 0, 1, 0, (int) c.length(1));
    }

    @Test
    void copiesOutsideTheBufferAreRefused() {
        desc(0, BASE + 0x100, 12, 0, 0);
        DescriptorChain c = new DescriptorChain(4);
        assertThat(c.walk(table, 4, 0, memory)).isEqualTo(ChainError.NONE);
        byte[] b = new byte[64];
        assertThatThrownBy(() -> c.copyTo(0, 4, b, 0, 9)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> c.copyFrom(b, 0, 0, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> c.copyTo(0, Long.MAX_VALUE, b, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> c.copyTo(1, 0, b, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        c.copyTo(0, 4, b, 0, 8);
        assertThat(c.buffer(0).byteSize()).isEqualTo(12);
        assertThat(c.buffer(0).address()).isEqualTo(ram.address() + 0x100);
    }
}
