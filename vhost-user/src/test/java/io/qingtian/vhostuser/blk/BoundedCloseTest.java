package io.qingtian.vhostuser.blk;

import static io.qingtian.virtio.blk.VirtioBlk.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver.Options;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A back-end whose storage stops answering must not keep its server from closing: close()
 * comes back after its bound, names the threads that are stuck, and the server's threads
 * release the ring (and let the owner close the storage) once the requests do return.
 */
@Timeout(120)
class BoundedCloseTest {
    private static final long SIZE = 1L << 20;

    @TempDir
    Path dir;

    /** Storage that hangs: every read waits until the test lets it go. */
    static final class HungBackend extends StubBackend {
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger inside = new AtomicInteger();
        final AtomicInteger returned = new AtomicInteger();

        HungBackend() {
            super(SIZE, true); // blocking: requests go to helper threads
        }

        @Override
        public void read(long offset, MemorySegment dst) {
            inside.incrementAndGet();
            try {
                release.await(100, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            returned.incrementAndGet();
        }

        void awaitInside(int n) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (inside.get() < n && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(inside.get()).as("requests in the backend").isGreaterThanOrEqualTo(n);
        }
    }

    @Test
    void closeReturnsWithinItsBoundWhileHelperThreadsAreStuckInTheBackend() throws Exception {
        HungBackend hung = new HungBackend();
        Path sock = dir.resolve("hung.sock");
        VhostUserBlkServer server = VhostUserBlkServer.start(sock, hung, 1, false);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream savedErr = System.err;
        try (VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            for (int i = 0; i < 4; i++) {
                d.submit(0, VIRTIO_BLK_T_IN, 8L * i, 4096);
            }
            d.kick(0);
            hung.awaitInside(4); // three on helper threads, the last inline on the queue worker

            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            boolean stopped;
            try {
                stopped = server.close(Duration.ofMillis(300));
            } finally {
                System.setErr(savedErr);
                savedErr.print(err.toString(StandardCharsets.UTF_8));
            }
            assertThat(stopped).as("close gives up waiting").isFalse();
            // Order, not time: close came back while every request was still inside the backend.
            assertThat(hung.returned.get()).isZero();
            assertThat(server.terminated()).isNotDone();
            assertThat(sock).as("no new front-end can connect").doesNotExist();
            String report = err.toString(StandardCharsets.UTF_8);
            assertThat(report).contains("close did not finish within 300 ms")
                    .contains("vhost-user-blk:hung.sock-q0-io-") // a helper thread, by name
                    .contains("HungBackend.read");               // and where it is stuck

            // The storage answers again: the requests complete, the ring is released, the threads end.
            hung.release.countDown();
            server.terminated().get(60, TimeUnit.SECONDS);
            assertThat(hung.returned.get()).isEqualTo(4);
            assertThat(server.close(Duration.ofSeconds(60))).as("a second close finds everything stopped").isTrue();
        } finally {
            hung.release.countDown();
        }
    }

    @Test
    void closeWithNothingStuckStopsEverythingAtOnce() throws Exception {
        HungBackend idle = new HungBackend();
        VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("idle.sock"), idle, 2, false);
        try (VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            assertThat(d.flush(0)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(server.close(Duration.ofSeconds(60))).isTrue();
            assertThat(server.terminated()).isDone();
        }
    }
}
