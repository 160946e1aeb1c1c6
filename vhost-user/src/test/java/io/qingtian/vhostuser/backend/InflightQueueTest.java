package io.qingtian.vhostuser.backend;

import static io.qingtian.vhostuser.backend.InflightRegion.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.Fds;
import io.qingtian.sys.Libc;
import io.qingtian.vhostuser.backend.InflightQueue.InflightException;
import io.qingtian.vhostuser.backend.InflightQueue.Recovery;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * The inflight region against vhost-user.rst "Inflight I/O tracking" (split virtqueue): its
 * byte layout, the data-path bookkeeping, what a new back-end recovers after a crash between
 * any two steps, and hostile contents (the front-end can write the region).
 */
class InflightQueueTest {
    static final int SIZE = 8;

    private static MemorySegment region(Arena a, int size) {
        return a.allocate(queueStride(size), 64);
    }

    /** A region a previous back-end initialised (version 1, desc_num = size) at used index {@code used}. */
    private static InflightQueue fresh(MemorySegment q, int size, int used) throws InflightException {
        Recovery[] r = new Recovery[1];
        InflightQueue t = InflightQueue.recover(q, size, used, r);
        assertThat(r[0].fresh()).isTrue();
        return t;
    }

    private static Recovery recover(MemorySegment q, int size, int used) throws InflightException {
        Recovery[] r = new Recovery[1];
        InflightQueue.recover(q, size, used, r);
        return r[0];
    }

    private static int flag(MemorySegment q, int head) {
        return q.get(ValueLayout.JAVA_BYTE, 16 + 16L * head);
    }

    @Test
    void layoutMatchesTheSpecStructs() throws Exception {
        // QueueRegionSplit header 16 bytes, DescStateSplit 16 bytes; stride as libvhost-user.
        assertThat(HEADER_BYTES).isEqualTo(16);
        assertThat(DESC_STATE_BYTES).isEqualTo(16);
        assertThat(queueStride(128)).isEqualTo(2112); // 16*128+2 rounded up to 64
        assertThat(queueStride(1)).isEqualTo(64);
        assertThat(queueStride(3 * 4)).isGreaterThanOrEqualTo(16 + 16 * 12);
        for (int s = 1; s <= 32768; s <<= 1) {
            assertThat(queueStride(s)).isGreaterThanOrEqualTo(16 + 16L * s).isEqualTo((queueStride(s) / 64) * 64);
        }
        assertThat(regionBytes(2, 256)).isEqualTo(2 * queueStride(256));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 0);
            assertThat(q.get(U16, 8)).as("version").isEqualTo((short) 1);
            assertThat(q.get(U16, 10)).as("desc_num").isEqualTo((short) SIZE);
            t.popped(3);
            long d3 = 16 + 16 * 3;
            assertThat(q.get(ValueLayout.JAVA_BYTE, d3)).as("desc[3].inflight").isEqualTo((byte) 1);
            assertThat(q.get(U64, d3 + 8)).as("desc[3].counter").isEqualTo(1L);
            t.popped(5);
            assertThat(q.get(U64, 16 + 16 * 5 + 8)).isEqualTo(2L);
            t.used(3);
            t.used(5);
            assertThat(q.get(U16, 12)).as("last_batch_head").isEqualTo((short) 5);
            assertThat(q.get(U16, 16 + 16 * 5 + 6)).as("desc[5].next").isEqualTo((short) 3);
            assertThat(flag(q, 3)).as("in flight until published").isEqualTo(1);
            t.published(2);
            assertThat(flag(q, 3)).isZero();
            assertThat(flag(q, 5)).isZero();
            assertThat(q.get(U16, 14)).as("used_idx").isEqualTo((short) 2);
        }
    }

    @Test
    void createdRegionIsAMemfdWithHeadersAndMapChecksItsSize() {
        int fd = InflightRegion.create(2, 64, 4);
        try {
            assertThat(Fds.size(fd)).isEqualTo(regionBytes(2, 64));
            try (InflightRegion r = InflightRegion.map(fd, regionBytes(2, 64), 0, 2, 64, 4)) {
                for (int i = 0; i < 2; i++) {
                    assertThat(r.queue(i).get(U16, 8)).isEqualTo((short) 1);
                    assertThat(r.queue(i).get(U16, 10)).isEqualTo((short) 64);
                }
                assertThat(r.queue(2)).isNull();
            }
            assertThatThrownBy(() -> InflightRegion.map(fd, regionBytes(2, 64), 4096, 2, 64, 4))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fd has");
            assertThatThrownBy(() -> InflightRegion.map(fd, 100, 0, 2, 64, 4)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> InflightRegion.map(fd, regionBytes(2, 64), 0, 5, 64, 4)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> InflightRegion.map(fd, regionBytes(2, 64), 0, 2, 48, 4)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> InflightRegion.create(1, 0, 4)).isInstanceOf(IllegalArgumentException.class);
        } finally {
            Libc.closeQuietly(fd);
        }
    }

    @Test
    void resubmitsInCounterOrderAndResumesAfterThem() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 10);
            // Popped in avail order 6, 1, 4, 0; 1 completes (published: guest used 10 -> 11).
            t.popped(6);
            t.popped(1);
            t.popped(4);
            t.popped(0);
            t.used(1);
            t.published(11);
            Recovery r = recover(q, SIZE, 11);
            assertThat(r.resubmit()).containsExactly(6, 4, 0);
            assertThat(r.nextAvail()).as("used index + heads in flight").isEqualTo(14);
            // Counters continue after the largest one: a second crash keeps the order.
            Recovery[] out = new Recovery[1];
            InflightQueue t2 = InflightQueue.recover(q, SIZE, 11, out);
            assertThat(t2.counter()).isEqualTo(5);
            t2.popped(2);
            assertThat(recover(q, SIZE, 11).resubmit()).containsExactly(6, 4, 0, 2);
        }
    }

    @Test
    void orderComesFromCountersNotHeads() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            fresh(q, SIZE, 0);
            long[] counters = {0, 900, 0, 5, 0, 0xFFFF_FFFF_0L, 7, 0};
            for (int h = 0; h < SIZE; h++) {
                if (counters[h] != 0) {
                    q.set(ValueLayout.JAVA_BYTE, 16 + 16L * h, (byte) 1);
                    q.set(U64, 16 + 16L * h + 8, counters[h]);
                }
            }
            Recovery r = recover(q, SIZE, 0);
            assertThat(r.resubmit()).containsExactly(3, 6, 1, 5);
            assertThat(r.nextAvail()).isEqualTo(4);
        }
    }

    @Test
    void crashAfterPopBeforeUseResubmits() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 0xFFFF);
            t.popped(2);
            Recovery r = recover(q, SIZE, 0xFFFF);
            assertThat(r.resubmit()).containsExactly(2);
            assertThat(r.nextAvail()).as("16-bit wrap").isZero();
        }
    }

    @Test
    void crashAfterUsedElementBeforeUsedIndexResubmits() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 0);
            t.popped(2);
            t.popped(3);
            t.used(2); // written into the used ring, used index not stored: the driver never saw it
            Recovery r = recover(q, SIZE, 0);
            assertThat(r.resubmit()).containsExactly(2, 3);
            assertThat(r.nextAvail()).isEqualTo(2);
        }
    }

    @Test
    void crashAfterUsedIndexBeforeFlagsClearedFixesTheLastBatch() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 0);
            for (int h : new int[] {7, 2, 5, 1}) {
                t.popped(h);
            }
            t.used(7);
            t.published(1);
            t.used(5);
            t.used(2); // batch of two; the ring's used index became 3, then the back-end died
            Recovery r = recover(q, SIZE, 3);
            assertThat(r.resubmit()).containsExactly(1);
            assertThat(r.nextAvail()).isEqualTo(4);
            assertThat(q.get(U16, 14)).as("used_idx fixed up").isEqualTo((short) 3);
            assertThat(flag(q, 5)).isZero();
            assertThat(flag(q, 2)).isZero();
        }
    }

    @Test
    void crashBetweenClearingFlagsAndUsedIdx() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 0);
            t.popped(4);
            t.popped(6);
            t.used(4);
            // flags cleared, used_idx not yet stored
            q.set(ValueLayout.JAVA_BYTE, 16 + 16 * 4, (byte) 0);
            Recovery r = recover(q, SIZE, 1);
            assertThat(r.resubmit()).containsExactly(6);
            assertThat(r.nextAvail()).isEqualTo(2);
        }
    }

    @Test
    void aRegionThatOutlivedItsRingsStartsOverWhenNothingIsInFlight() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            InflightQueue t = fresh(q, SIZE, 0);
            for (int i = 0; i < 300; i++) { // the old rings ran to used index 300
                t.popped(i % SIZE);
                t.used(i % SIZE);
                t.published(i + 1);
            }
            Recovery r = recover(q, SIZE, 0); // a driver reset: new rings at 0
            assertThat(r.fresh()).isTrue();
            assertThat(r.resubmit()).isEmpty();
            assertThat(q.get(U16, 14)).isZero();
            t.popped(3); // with something in flight the mismatch is an error, not a guess
            assertThatThrownBy(() -> recover(q, SIZE, 100)).isInstanceOf(InflightException.class).hasMessageContaining("ahead");
        }
    }

    @Test
    void hostileContentsAreClearErrors() throws Exception {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, SIZE);
            fresh(q, SIZE, 0);
            assertThatThrownBy(() -> recover(q, 16, 0)).isInstanceOf(InflightException.class).hasMessageContaining("too small");
            assertThatThrownBy(() -> recover(q, 4, 0)).isInstanceOf(InflightException.class).hasMessageContaining("desc_num 8");
            q.set(U16, 8, (short) 7);
            assertThatThrownBy(() -> recover(q, SIZE, 0)).isInstanceOf(InflightException.class).hasMessageContaining("version 7");
            q.set(U16, 8, (short) 1);
            q.set(ValueLayout.JAVA_BYTE, 16 + 16 * 2, (byte) 9);
            assertThatThrownBy(() -> recover(q, SIZE, 0)).isInstanceOf(InflightException.class).hasMessageContaining("flag 9");
            q.set(ValueLayout.JAVA_BYTE, 16 + 16 * 2, (byte) 1);
            q.set(ValueLayout.JAVA_BYTE, 16 + 16 * 3, (byte) 1);
            assertThatThrownBy(() -> recover(q, SIZE, 0)).isInstanceOf(InflightException.class).hasMessageContaining("same counter");
            q.set(U16, 12, (short) 4000); // last_batch_head beyond the ring, with a batch to fix up
            assertThatThrownBy(() -> recover(q, SIZE, 1)).isInstanceOf(InflightException.class).hasMessageContaining("head 4000");
            assertThatThrownBy(() -> recover(q, SIZE, 9)).isInstanceOf(InflightException.class).hasMessageContaining("ahead");
            assertThatThrownBy(() -> recover(q.asSlice(0, 40), SIZE, 0)).isInstanceOf(InflightException.class);
        }
    }

    /** Whatever the front-end wrote, recovery fails cleanly or yields distinct heads inside the ring. */
    @Property(tries = 300)
    void randomRegionsNeverEscapeTheRing(@ForAll long seed, @ForAll @IntRange(min = 0, max = 5) int log2size,
                                         @ForAll @IntRange(min = 0, max = 65535) int used) {
        int size = 1 << log2size;
        Random rnd = new Random(seed);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = region(a, size);
            byte[] junk = new byte[(int) q.byteSize()];
            rnd.nextBytes(junk);
            for (int i = 0; i < junk.length; i++) {
                if (rnd.nextInt(3) > 0) {
                    junk[i] = (byte) (i % 16 == 0 ? rnd.nextInt(2) : 0); // mostly plausible flags
                }
            }
            MemorySegment.copy(junk, 0, q, ValueLayout.JAVA_BYTE, 0, junk.length);
            if (rnd.nextBoolean()) {
                q.set(U16, 8, (short) 1);
                q.set(U16, 10, (short) size);
            }
            Recovery r;
            try {
                r = recover(q, size, used);
            } catch (InflightException e) {
                assertThat(e.getMessage()).isNotBlank();
                return;
            }
            Set<Integer> seen = new HashSet<>();
            for (int h : r.resubmit()) {
                assertThat(h).isBetween(0, size - 1);
                assertThat(seen.add(h)).isTrue();
            }
            assertThat(r.nextAvail()).isEqualTo(r.fresh() ? used : (used + r.resubmit().length) & 0xFFFF);
        }
    }
}
