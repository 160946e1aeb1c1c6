package io.qingtian.vhostuser.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.frontend.FrontendRing;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The generic back-end serving a device the way vhost-user-net needs: queue 0 popped by the
 * device itself (it never wants kicks), queue 1 by a worker that completes chains in batches
 * and tells the device when a batch ends; the device learns the accepted features.
 */
@Timeout(120) // a hang fails; a slow machine does not
class DeviceDrivenQueueTest {
    static final long F_VERSION_1 = 1L << 32;
    static final long F_PROTOCOL_FEATURES = 1L << 30;
    static final int SIZE = 16;

    @TempDir
    Path dir;

    /** Queue 0 driven by the device, queue 1 by a worker; records what the back-end tells it. */
    static final class Device implements VhostUserDevice {
        final AtomicLong acked = new AtomicLong(-1);
        final BlockingQueue<DeviceQueue> started = new LinkedBlockingQueue<>();
        final AtomicInteger stopped = new AtomicInteger();
        final AtomicInteger processed = new AtomicInteger();
        final AtomicInteger batches = new AtomicInteger();

        @Override public int numQueues() { return 2; }
        @Override public long features() { return F_VERSION_1; }
        @Override public byte[] readConfig(int offset, int size) { return new byte[size]; }
        @Override public boolean writeConfig(int offset, byte[] data) { return false; }
        @Override public void featuresAcked(long features) { acked.set(features); }
        @Override public boolean drivesQueue(int queue) { return queue == 0; }
        @Override public void queueStarted(int queue, DeviceQueue ring) { started.add(ring); }
        @Override public void queueStopped(int queue) { stopped.incrementAndGet(); }
        @Override public int completionBatch(int queue) { return 8; }
        @Override public void batchDone(int queue) { batches.incrementAndGet(); }

        @Override
        public int process(int queue, DescriptorChain chain) {
            assertThat(queue).isEqualTo(1);
            processed.incrementAndGet();
            return 0;
        }
    }

    @Test
    void deviceDrivenReceiveQueueAndBatchedTransmitQueue() throws Exception {
        Device dev = new Device();
        try (VhostUserBackend backend = VhostUserBackend.start(dir.resolve("s"), dev, "test");
             SharedMemory mem = new SharedMemory(new long[] {0x100000}, new long[] {1 << 20});
             VhostUserFrontend fe = VhostUserFrontend.connect(dir.resolve("s"))) {
            fe.setOwner();
            fe.getFeatures();
            fe.setProtocolFeatures(fe.getProtocolFeatures() & (1L << 3)); // REPLY_ACK: each request done when answered
            fe.setFeatures(F_VERSION_1 | F_PROTOCOL_FEATURES);
            assertThat(dev.acked.get()).isEqualTo(F_VERSION_1 | F_PROTOCOL_FEATURES);
            fe.setMemTable(VhostUserFrontend.memoryTable(mem.memory()), VhostUserFrontend.memoryTableFds(mem.memory()));
            DriverQueue[] rings = new DriverQueue[2];
            int[] kicks = new int[2];
            for (int q = 0; q < 2; q++) {
                FrontendRing r = FrontendRing.start(fe, mem, 0, q, SIZE, false);
                rings[q] = r.queue();
                kicks[q] = r.kickFd();
            }
            long buf = mem.allocate(0, 4096, 4096);

            // Queue 0: the device pops; the driver is asked never to kick it.
            DeviceQueue rx = dev.started.poll(60, TimeUnit.SECONDS);
            assertThat(rx).isNotNull();
            rings[0].add(new long[] {buf}, new int[] {64}, new boolean[] {true}, 1);
            rings[0].publish();
            assertThat(rings[0].needsKick()).as("kick on a device-driven ring").isFalse();
            DescriptorChain c = new DescriptorChain(SIZE);
            assertThat(rx.pop(c)).isTrue();
            c.buffer(0).set(ValueLayout.JAVA_BYTE, 0, (byte) 42);
            rx.addUsed(c.head(), 1);
            int[] ids = new int[SIZE];
            int[] lens = new int[SIZE];
            assertThat(rings[0].poll(ids, lens)).as("used before publish").isZero();
            rx.publish();
            assertThat(rings[0].poll(ids, lens)).isEqualTo(1);
            assertThat(lens[0]).isEqualTo(1);
            assertThat(mem.slice(buf, 1).get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 42);
            assertThat(rx.pop(c)).as("nothing more posted").isFalse();

            // Queue 1: a worker serves kicks; three chains come back together.
            for (int i = 0; i < 3; i++) {
                rings[1].add(new long[] {buf + 64 * (i + 1)}, new int[] {64}, new boolean[] {false}, 1);
            }
            rings[1].publish();
            assertThat(rings[1].needsKick()).as("an idle worker wants a kick").isTrue();
            new EventFd().signal(kicks[1]);
            int got = 0;
            long deadline = System.nanoTime() + 60_000_000_000L; // ends when the chains are back
            while (got < 3 && System.nanoTime() < deadline) {
                got += rings[1].poll(ids, lens);
                Thread.onSpinWait();
            }
            assertThat(got).isEqualTo(3);
            assertThat(dev.processed.get()).isEqualTo(3);
            assertThat(dev.batches.get()).as("batch ends the device was told of").isPositive();

            // GET_VRING_BASE stops the device-driven ring: the device lets go, the base is where it stopped.
            assertThat(fe.getVringBase(0)).isEqualTo(1);
            assertThat(dev.stopped.get()).isEqualTo(1);
        }
    }
}
