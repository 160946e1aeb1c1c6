package io.qingtian.vhostuser.blk;

import static io.qingtian.virtio.blk.VirtioBlk.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver.Options;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Our vhost-user-blk back-end driven by our front-end harness over a real unix socket. */
@Timeout(60)
class VhostUserBlkServerTest {
    private static final long SIZE = 16L << 20;

    @TempDir
    Path dir;

    private static byte[] pattern(int len, long seed) {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writesReadsFlushesDiscardsAndZeroes() throws Exception {
        Path disk = dir.resolve("disk.img");
        try (FileBlockBackend file = new FileBlockBackend(disk, SIZE, false, "qt-serial-1");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("blk.sock"), file, 1, false);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            assertThat(d.config().capacitySectors()).isEqualTo(SIZE / 512);
            assertThat(d.config().blkSize()).isEqualTo(512);
            assertThat(d.features() & bit(VIRTIO_RING_F_EVENT_IDX)).isNotZero();
            byte[] data = pattern(8192, 1);
            assertThat(d.write(0, 100, data)).isEqualTo(VIRTIO_BLK_S_OK);
            byte[] back = new byte[8192];
            assertThat(d.read(0, 100, back)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(back).isEqualTo(data);
            assertThat(d.flush(0)).isEqualTo(VIRTIO_BLK_S_OK);
            // The file holds exactly what was written, where it was written.
            byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(disk), 100 * 512, 100 * 512 + 8192);
            assertThat(onDisk).isEqualTo(data);

            assertThat(d.discard(0, 100, 8)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(d.writeZeroes(0, 108, 8, false)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(d.read(0, 100, back)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(back).isEqualTo(new byte[8192]);
            assertThat(d.getId(0)).isEqualTo("qt-serial-1");

            VhostUserBlkServer.Stats s = server.stats();
            assertThat(s.writes()).isEqualTo(1);
            assertThat(s.writeBytes()).isEqualTo(8192);
            assertThat(s.reads()).isEqualTo(2);
            assertThat(s.flushes()).isEqualTo(1);
            assertThat(s.discards()).isEqualTo(1);
            assertThat(s.writeZeroes()).isEqualTo(1);
            assertThat(s.getIds()).isEqualTo(1);
            assertThat(s.errors()).isZero();
        }
    }

    @Test
    void rejectsOutOfRangeAndUnalignedRequestsWithIoErr() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), SIZE, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            assertThat(d.read(0, SIZE / 512 - 1, new byte[1024])).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.write(0, -1L, new byte[512])).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.write(0, 0, new byte[100])).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.discard(0, SIZE / 512, 1)).isEqualTo(VIRTIO_BLK_S_IOERR);
            // Unmap on discard is unsupported by the spec (§5.2.6.2).
            assertThat(d.segments(0, VIRTIO_BLK_T_DISCARD, new long[] {0}, new int[] {8}, 1)).isEqualTo(VIRTIO_BLK_S_UNSUPP);
            // The queue still serves after the failures.
            assertThat(d.write(0, 0, pattern(512, 2))).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(server.stats().errors()).isEqualTo(5);
        }
    }

    @Test
    void servesTwoQueuesConcurrently() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), SIZE, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 2, false);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults().withQueues(2).withIndirect(true))) {
            assertThat(d.features() & bit(VIRTIO_BLK_F_MQ)).isNotZero();
            assertThat(d.config().numQueues()).isEqualTo(2);
            Thread[] threads = new Thread[2];
            Throwable[] failure = new Throwable[1];
            for (int q = 0; q < 2; q++) {
                int queue = q;
                threads[q] = Thread.ofPlatform().start(() -> {
                    try {
                        for (int i = 0; i < 200; i++) {
                            long sector = queue * 4096L + i * 8L;
                            byte[] data = pattern(4096, sector);
                            assertThat(d.write(queue, sector, data)).isEqualTo(VIRTIO_BLK_S_OK);
                            byte[] back = new byte[4096];
                            assertThat(d.read(queue, sector, back)).isEqualTo(VIRTIO_BLK_S_OK);
                            assertThat(back).isEqualTo(data);
                        }
                    } catch (Throwable t) {
                        failure[0] = t;
                    }
                });
            }
            for (Thread t : threads) {
                t.join();
            }
            assertThat(failure[0]).isNull();
            assertThat(server.stats().writes()).isEqualTo(400);
        }
    }

    @Test
    void manyLargeRequestsInFlightCompleteWithTheirData() throws Exception {
        Path disk = dir.resolve("d");
        try (FileBlockBackend file = new FileBlockBackend(disk, SIZE, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            // 32 × 128 KiB writes in flight at once: most go to helper threads.
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < 32; i++) {
                    int slot = d.submit(0, VIRTIO_BLK_T_OUT, (round * 32L + i) * 256, 128 * 1024);
                    MemorySegment.copy(pattern(128 * 1024, round * 32L + i), 0, d.slotData(0, slot),
                            java.lang.foreign.ValueLayout.JAVA_BYTE, 0, 128 * 1024);
                }
                d.kick(0);
                int[] done = new int[32];
                int completed = 0;
                while (completed < 32) {
                    int n = d.reap(0, done);
                    for (int k = 0; k < n; k++) {
                        assertThat(d.slotStatus(0, done[k])).isEqualTo(VIRTIO_BLK_S_OK);
                    }
                    completed += n;
                }
            }
            byte[] all = Files.readAllBytes(disk);
            for (int i = 0; i < 128; i++) {
                assertThat(Arrays.copyOfRange(all, i * 131072, (i + 1) * 131072)).as("block %d", i)
                        .isEqualTo(pattern(128 * 1024, i));
            }
            assertThat(server.stats().writes()).isEqualTo(128);
            assertThat(d.stopQueue(0)).isEqualTo(d.availIdx(0));
        }
    }

    /** Counts how many reads run at the same time. */
    static final class OverlapProbe extends StubBackend {
        final java.util.concurrent.atomic.AtomicInteger now = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger max = new java.util.concurrent.atomic.AtomicInteger();
        final boolean blocking;

        OverlapProbe(boolean blocking) {
            super(SIZE, blocking);
            this.blocking = blocking;
        }

        @Override
        public void read(long offset, MemorySegment dst) {
            max.accumulateAndGet(now.incrementAndGet(), Math::max);
            try {
                // Stay inside until another read joins (a rendezvous, not a guess at how long a
                // helper thread takes to start on a loaded machine); a back-end that serves
                // one read at a time gets no partner and every read leaves after 2 s.
                // (Reads of the memory-speed probe just last a little, so overlaps would show.)
                long deadline = System.nanoTime() + (blocking ? 2_000_000_000L : 20_000_000L);
                while ((!blocking || max.get() < 2) && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            now.decrementAndGet();
        }
    }

    private static int maxOverlapOf16SmallReads(OverlapProbe probe, Path sock) throws Exception {
        try (VhostUserBlkServer server = VhostUserBlkServer.start(sock, probe, 1, false);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            for (int i = 0; i < 16; i++) {
                d.submit(0, VIRTIO_BLK_T_IN, 8L * i, 4096);
            }
            d.kick(0);
            int[] done = new int[32];
            for (int completed = 0; completed < 16; ) {
                int n = d.reap(0, done);
                for (int k = 0; k < n; k++) {
                    assertThat(d.slotStatus(0, done[k])).isEqualTo(VIRTIO_BLK_S_OK);
                }
                completed += n;
            }
            return probe.max.get();
        }
    }

    @Test
    void blockingBackendsGetPendingRequestsConcurrently() throws Exception {
        assertThat(maxOverlapOf16SmallReads(new OverlapProbe(true), dir.resolve("a"))).isGreaterThan(1);
        // Small requests on a memory-speed backend stay inline, one at a time.
        assertThat(maxOverlapOf16SmallReads(new OverlapProbe(false), dir.resolve("b"))).isEqualTo(1);
    }

    @Test
    void readOnlyDiskRefusesWrites() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), SIZE, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, true);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            assertThat(d.features() & bit(VIRTIO_BLK_F_RO)).isNotZero();
            assertThat(d.write(0, 0, pattern(512, 3))).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.discard(0, 0, 8)).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.writeZeroes(0, 0, 8, false)).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.read(0, 0, new byte[512])).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(Files.readAllBytes(dir.resolve("d"))).isEqualTo(new byte[(int) SIZE]); // (containsOnly boxes 16 MiB: 8 s)
        }
    }

    @Test
    void newFrontendAfterDisconnectStartsFresh() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), SIZE, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false)) {
            byte[] data = pattern(4096, 4);
            try (VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
                assertThat(d.write(0, 8, data)).isEqualTo(VIRTIO_BLK_S_OK);
                // A front-end that vanishes with requests in flight.
                for (int i = 0; i < 16; i++) {
                    MemorySegment buf = d.slotData(0, d.submit(0, VIRTIO_BLK_T_OUT, 1000 + 8L * i, 4096) );
                    buf.asSlice(0, 4096).fill((byte) i);
                }
                d.kick(0);
            }
            try (VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults().withIndirect(true))) {
                byte[] back = new byte[4096];
                assertThat(d.read(0, 8, back)).isEqualTo(VIRTIO_BLK_S_OK);
                assertThat(back).isEqualTo(data);
                // Each abandoned write either happened completely or not at all: never torn.
                for (int i = 0; i < 16; i++) {
                    assertThat(d.read(0, 1000 + 8L * i, back)).isEqualTo(VIRTIO_BLK_S_OK);
                    byte[] whole = new byte[4096];
                    Arrays.fill(whole, (byte) i);
                    assertThat(back).satisfiesAnyOf(b -> assertThat(b).isEqualTo(whole), b -> assertThat(b).isEqualTo(new byte[4096]));
                }
            }
            assertThat(server.stats().connections()).isEqualTo(2);
        }
    }

    @Test
    void getVringBaseStopsTheRingAtTheDriversAvailIndex() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), SIZE, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false);
             VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            for (int i = 0; i < 5; i++) {
                assertThat(d.write(0, i, pattern(512, i))).isEqualTo(VIRTIO_BLK_S_OK);
            }
            assertThat(d.stopQueue(0)).isEqualTo(d.availIdx(0)).isEqualTo(5);
        }
    }

    @Test
    void closeRemovesTheSocket() throws Exception {
        Path sock = dir.resolve("s");
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), SIZE, false, "x")) {
            VhostUserBlkServer server = VhostUserBlkServer.start(sock, file, 1, false);
            VirtioBlkDriver d = VirtioBlkDriver.connect(sock, Options.defaults());
            assertThat(d.write(0, 0, pattern(512, 5))).isEqualTo(VIRTIO_BLK_S_OK);
            server.close();
            assertThat(sock).doesNotExist();
            d.close();
        }
    }
}
