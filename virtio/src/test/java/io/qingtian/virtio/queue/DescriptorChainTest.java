package io.qingtian.virtio.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Descriptor-chain walking under random and hostile descriptor tables (virtio 1.2 §2.7.5):
 * it never throws, never yields a buffer outside guest memory, and stops at the queue size.
 */
class DescriptorChainTest {
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Two regions with a hole between them; the table and indirect tables live inside. */
    static final long R0 = 0x1000;
    static final long R0_SIZE = 0x4000;
    static final long R1 = 0x10000;
    static final long R1_SIZE = 0x4000;

    record Desc(long addr, int len, int flags, int next) {}

    static final class Fixture {
        final Arena arena = Arena.ofAuto();
        final MemorySegment r0 = arena.allocate(R0_SIZE, 16);
        final MemorySegment r1 = arena.allocate(R1_SIZE, 16);
        final GuestMemory memory = new GuestMemory(List.of(new GuestRegion(R0, r0, -1, 0), new GuestRegion(R1, r1, -1, 0)));

        boolean insideRegions(MemorySegment s) {
            for (MemorySegment r : List.of(r0, r1)) {
                if (s.address() >= r.address() && s.address() + s.byteSize() <= r.address() + r.byteSize()) {
                    return true;
                }
            }
            return false;
        }

        void put(MemorySegment table, int i, Desc d) {
            table.set(U64, 16L * i, d.addr());
            table.set(U32, 16L * i + 8, d.len());
            table.set(U16, 16L * i + 12, (short) d.flags());
            table.set(U16, 16L * i + 14, (short) d.next());
        }
    }

    /** Addresses near and across region edges, in holes, and absurd ones. */
    static Arbitrary<Long> addresses() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(R0 - 64, R0 + R0_SIZE + 64),
                Arbitraries.longs().between(R1 - 64, R1 + R1_SIZE + 64),
                Arbitraries.of(0L, -1L, Long.MAX_VALUE, Long.MIN_VALUE, 0xFFFF_FFFF_FFFF_F000L, R1 + R1_SIZE - 1));
    }

    static Arbitrary<Integer> lengths() {
        return Arbitraries.oneOf(Arbitraries.integers().between(0, 0x5000),
                Arbitraries.of(0, 1, 16, 48, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 0x10000));
    }

    @Provide
    Arbitrary<List<Desc>> tables() {
        Arbitrary<Desc> d = Combinators.combine(addresses(), lengths(), Arbitraries.integers().between(0, 7),
                Arbitraries.integers().between(0, 20)).as(Desc::new);
        return d.list().ofSize(16);
    }

    @Property(tries = 2000)
    void walkingNeverThrowsNorEscapesGuestMemory(@ForAll("tables") List<Desc> table,
                                                  @ForAll("tables") List<Desc> indirect,
                                                  @ForAll @IntRange(min = 0, max = 15) int head) {
        Fixture f = new Fixture();
        MemorySegment t = f.r0.asSlice(0, 16 * 16);
        for (int i = 0; i < 16; i++) {
            f.put(t, i, table.get(i));
        }
        // An indirect table at a known place, so INDIRECT descriptors pointing there get walked.
        MemorySegment it = f.r1.asSlice(0x100, 16 * 16);
        for (int i = 0; i < 16; i++) {
            f.put(it, i, indirect.get(i));
        }
        DescriptorChain chain = new DescriptorChain(16);
        ChainError e = chain.walk(t, 16, head, f.memory);
        net.jqwik.api.statistics.Statistics.collect(e);
        if (e == ChainError.NONE) {
            assertThat(chain.count()).isBetween(1, 16);
            long readable = 0;
            long writable = 0;
            boolean seenWritable = false;
            for (int i = 0; i < chain.count(); i++) {
                MemorySegment b = chain.buffer(i);
                assertThat(f.insideRegions(b)).as("buffer %d inside guest memory", i).isTrue();
                assertThat(b.byteSize()).isPositive();
                if (chain.isWritable(i)) {
                    seenWritable = true;
                    writable += b.byteSize();
                } else {
                    assertThat(seenWritable).as("readable after writable").isFalse();
                    readable += b.byteSize();
                }
            }
            assertThat(chain.readableBytes()).isEqualTo(readable);
            assertThat(chain.writableBytes()).isEqualTo(writable);
        } else {
            assertThat(chain.count()).isZero();
        }
    }

    @Property(tries = 300)
    void loopsAreDetected(@ForAll @IntRange(min = 1, max = 16) int cycle, @ForAll @IntRange(min = 0, max = 15) int start) {
        Fixture f = new Fixture();
        MemorySegment t = f.r0.asSlice(0, 16 * 16);
        for (int i = 0; i < 16; i++) {
            // Descriptor i chains to (i+1) mod cycle, relative to start: a ring of `cycle` entries.
            int next = (i - start + 1 + 16) % 16 % cycle;
            next = (start + next) % 16;
            f.put(t, i, new Desc(R1 + 512, 64, DescriptorChain.VIRTQ_DESC_F_NEXT, next));
        }
        DescriptorChain chain = new DescriptorChain(16);
        assertThat(chain.walk(t, 16, start, f.memory)).isEqualTo(ChainError.CHAIN_TOO_LONG);
    }

    @Property(tries = 200)
    void indirectTablesAreWalked(@ForAll @IntRange(min = 1, max = 8) int n) {
        Fixture f = new Fixture();
        MemorySegment t = f.r0.asSlice(0, 16 * 16);
        MemorySegment it = f.r1.asSlice(0x100, 16L * n);
        for (int i = 0; i < n; i++) {
            boolean w = i == n - 1;
            f.put(it, i, new Desc(R0 + 0x1000 + 64L * i, 64, (w ? DescriptorChain.VIRTQ_DESC_F_WRITE : 0)
                    | (i + 1 < n ? DescriptorChain.VIRTQ_DESC_F_NEXT : 0), i + 1));
        }
        f.put(t, 3, new Desc(R1 + 0x100, 16 * n, DescriptorChain.VIRTQ_DESC_F_INDIRECT, 0));
        DescriptorChain chain = new DescriptorChain(16);
        assertThat(chain.walk(t, 16, 3, f.memory)).isEqualTo(ChainError.NONE);
        assertThat(chain.count()).isEqualTo(n);
        assertThat(chain.writableCount()).isEqualTo(1);
        assertThat(chain.head()).isEqualTo(3);
    }

    @Property(tries = 100)
    void hostileIndirectTablesAreRefused(@ForAll @IntRange(min = 0, max = 4) int kind) {
        Fixture f = new Fixture();
        MemorySegment t = f.r0.asSlice(0, 16 * 16);
        MemorySegment it = f.r1.asSlice(0x100, 16 * 4);
        f.put(it, 0, new Desc(R1 + 0x100, 64, DescriptorChain.VIRTQ_DESC_F_INDIRECT, 0));
        Desc head = switch (kind) {
            case 0 -> new Desc(R1 + 0x100, 64, DescriptorChain.VIRTQ_DESC_F_INDIRECT, 0);                 // nested
            case 1 -> new Desc(R1 + 0x100, 63, DescriptorChain.VIRTQ_DESC_F_INDIRECT, 0);                 // bad length
            case 2 -> new Desc(R1 + 0x100, 64, DescriptorChain.VIRTQ_DESC_F_INDIRECT | DescriptorChain.VIRTQ_DESC_F_NEXT, 1);
            case 3 -> new Desc(R1 + R1_SIZE - 16, 64, DescriptorChain.VIRTQ_DESC_F_INDIRECT, 0);          // runs out
            default -> new Desc(R1 + 0x100, 16 * 1024, DescriptorChain.VIRTQ_DESC_F_INDIRECT, 0);         // too long
        };
        f.put(t, 0, head);
        ChainError expected = switch (kind) {
            case 0 -> ChainError.NESTED_INDIRECT;
            case 1 -> ChainError.BAD_INDIRECT_LENGTH;
            case 2 -> ChainError.INDIRECT_WITH_NEXT;
            case 3 -> ChainError.ADDRESS_OUTSIDE_MEMORY;
            default -> ChainError.CHAIN_TOO_LONG;
        };
        assertThat(new DescriptorChain(16).walk(t, 16, 0, f.memory)).isEqualTo(expected);
    }
}
