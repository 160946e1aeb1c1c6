package io.qingtian.virtio.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** The device side against the driver side of the same rings, and against hostile avail rings. */
class SplitQueueTest {
    private static final long RING_GPA = 0x10000;
    private static final long BUF_GPA = 0x100000;

    record Setup(GuestMemory memory, DriverQueue driver, SplitQueue device) {}

    static Setup setup(int size, boolean eventIdx) throws Exception {
        Arena a = Arena.ofAuto();
        MemorySegment rings = a.allocate(0x10000, 4096);
        MemorySegment bufs = a.allocate(0x100000, 4096);
        GuestMemory m = new GuestMemory(List.of(new GuestRegion(RING_GPA, rings, -1, 0), new GuestRegion(BUF_GPA, bufs, -1, 0)));
        long desc = RING_GPA;
        long avail = RING_GPA + 16L * size;
        long used = (avail + 6 + 2L * size + 4095) & ~4095L;
        DriverQueue d = new DriverQueue(m, size, desc, avail, used, eventIdx);
        SplitQueue q = SplitQueue.create(size, m.slice(desc, 16L * size), m.slice(avail, 6 + 2L * size),
                m.slice(used, 6 + 8L * size), m, eventIdx);
        q.setNextAvail(0);
        return new Setup(m, d, q);
    }

    @Provide
    Arbitrary<List<Integer>> chainLengths() {
        return Arbitraries.integers().between(1, 4).list().ofMinSize(1).ofMaxSize(200);
    }

    @Property(tries = 200)
    void deviceSeesExactlyWhatTheDriverOffered(@ForAll("chainLengths") List<Integer> lengths, @ForAll boolean eventIdx)
            throws Exception {
        Setup s = setup(16, eventIdx);
        DescriptorChain chain = new DescriptorChain(16);
        int[] ids = new int[16];
        int[] lens = new int[16];
        long next = BUF_GPA;
        int completed = 0;
        for (int n : lengths) {
            long[] addr = new long[n];
            int[] len = new int[n];
            boolean[] w = new boolean[n];
            for (int i = 0; i < n; i++) {
                addr[i] = next;
                len[i] = 100 + i;
                w[i] = i == n - 1;
                next += 256;
                if (next > BUF_GPA + 0xF0000) {
                    next = BUF_GPA;
                }
            }
            int head = s.driver().add(addr, len, w, n);
            assertThat(head).isNotNegative();
            s.driver().publish();
            assertThat(s.device().pop(chain)).isTrue();
            assertThat(chain.error()).isEqualTo(ChainError.NONE);
            assertThat(chain.head()).isEqualTo(head);
            assertThat(chain.count()).isEqualTo(n);
            for (int i = 0; i < n; i++) {
                assertThat(chain.buffer(i).address()).isEqualTo(s.memory().slice(addr[i], 1).address());
                assertThat(chain.buffer(i).byteSize()).isEqualTo(len[i]);
            }
            assertThat(s.device().pop(chain)).isFalse();
            s.device().addUsed(head, 7);
            s.device().publishUsed();
            int got = s.driver().poll(ids, lens);
            assertThat(got).isEqualTo(1);
            assertThat(ids[0]).isEqualTo(head);
            assertThat(lens[0]).isEqualTo(7);
            completed++;
        }
        assertThat(s.driver().freeCount()).isEqualTo(16);
        assertThat(s.device().nextAvail()).isEqualTo(completed & 0xFFFF);
    }

    @Property(tries = 100)
    void eventIdxSuppressesInterruptsUntilTheDriverAsks(@ForAll @IntRange(min = 1, max = 8) int batch) throws Exception {
        Setup s = setup(16, true);
        DescriptorChain chain = new DescriptorChain(16);
        for (int i = 0; i < batch; i++) {
            s.driver().add(new long[] {BUF_GPA + 512L * i}, new int[] {16}, new boolean[] {true}, 1);
        }
        s.driver().publish();
        // The driver asked for an interrupt at the first used element (used_event = 0).
        s.driver().enableInterrupts();
        int notified = 0;
        while (s.device().pop(chain)) {
            s.device().addUsed(chain.head(), 1);
            s.device().publishUsed();
            if (s.device().needsNotification()) {
                notified++;
            }
        }
        assertThat(notified).isEqualTo(1);
        // The device asks to be kicked for the next chain (avail_event = next avail).
        assertThat(s.device().enableNotification()).isFalse();
        s.driver().add(new long[] {BUF_GPA}, new int[] {16}, new boolean[] {true}, 1);
        s.driver().publish();
        assertThat(s.driver().needsKick()).isTrue();
    }

    @Property(tries = 200)
    void hostileAvailRingBreaksTheQueueWithoutThrowing(@ForAll @IntRange(min = 0, max = 0xFFFF) int availIdx,
                                                       @ForAll @IntRange(min = 0, max = 0xFFFF) int head) throws Exception {
        Setup s = setup(16, false);
        MemorySegment avail = s.memory().slice(s.driver().availGpa(), 6 + 32);
        avail.set(ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN), 2, (short) availIdx);
        for (int i = 0; i < 16; i++) {
            avail.set(ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN), 4 + 2L * i, (short) head);
        }
        DescriptorChain chain = new DescriptorChain(16);
        List<ChainError> errors = new ArrayList<>();
        int pops = 0;
        while (s.device().pop(chain) && pops < 100) {
            errors.add(chain.error());
            s.device().addUsed(chain.head(), 0);
            pops++;
        }
        if (availIdx > 16 || (availIdx > 0 && head >= 16)) {
            assertThat(s.device().broken()).isNotNull();
        } else {
            assertThat(s.device().broken()).isNull();
            assertThat(pops).isEqualTo(availIdx);
        }
    }

    @Property(tries = 50)
    void ringSizesMustBePowersOfTwo(@ForAll @IntRange(min = -5, max = 70000) int size) {
        Arena a = Arena.ofAuto();
        MemorySegment big = a.allocate(16L * 70000 + 64, 4096);
        boolean ok = size > 0 && size <= 32768 && Integer.bitCount(size) == 1;
        try {
            SplitQueue.create(size, big, big, big, new GuestMemory(List.of()), false);
            assertThat(ok).isTrue();
        } catch (IllegalArgumentException e) {
            assertThat(ok).isFalse();
        }
    }
}
