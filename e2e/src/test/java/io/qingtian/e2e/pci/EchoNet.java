package io.qingtian.e2e.pci;

import io.qingtian.vhostuser.backend.VhostUserBackend;
import io.qingtian.vhostuser.backend.VhostUserDevice;
import io.qingtian.virtio.queue.DescriptorChain;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A vhost-user-net peer for the lab (no DPDK or card network back-end runs in L1): every
 * frame the guest transmits is counted and sent back to it on the receive queue, so the
 * guest's rx counter proves the RX path too. Built on the project's generic vhost-user
 * back-end. {@code java -cp ... io.qingtian.e2e.pci.EchoNet SOCKET}; prints counters on SIGTERM.
 */
public final class EchoNet implements VhostUserDevice {
    static final long VIRTIO_F_VERSION_1 = 1L << 32;
    /** virtio_net_hdr with num_buffers: 12 bytes for VERSION_1 devices (virtio 1.2 §5.1.6). */
    static final int HDR = 12;

    private final BlockingQueue<byte[]> frames = new ArrayBlockingQueue<>(64);
    final AtomicLong tx = new AtomicLong();
    final AtomicLong rx = new AtomicLong();

    public static void main(String[] args) throws Exception {
        AutoCloseable net = serve(Path.of(args[0]));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                net.close();
            } catch (Exception e) {
                System.err.println("echo-net: " + e);
            }
            done.countDown();
        }));
        done.await();
    }

    /** Echoes frames on {@code socket}; closing it stops the peer and prints its counters. */
    static AutoCloseable serve(Path socket) {
        EchoNet dev = new EchoNet();
        VhostUserBackend backend = VhostUserBackend.start(socket, dev, "echo-net");
        return () -> {
            backend.close();
            System.out.println("echo-net: tx=" + dev.tx.get() + " rx=" + dev.rx.get());
        };
    }

    @Override public int numQueues() { return 2; }
    @Override public long features() { return VIRTIO_F_VERSION_1; }
    @Override public byte[] readConfig(int offset, int size) { return new byte[size]; }
    @Override public boolean writeConfig(int offset, byte[] data) { return false; }

    @Override
    public int process(int queue, DescriptorChain chain) {
        if (queue == 1) {
            long len = chain.readableBytes();
            if (len > HDR && len < 65536) {
                byte[] frame = new byte[(int) (len - HDR)];
                int at = 0;
                long skip = HDR;
                for (int i = 0; i < chain.readableCount(); i++) {
                    MemorySegment b = chain.buffer(i);
                    long from = Math.min(skip, b.byteSize());
                    skip -= from;
                    int n = (int) (b.byteSize() - from);
                    MemorySegment.copy(b, ValueLayout.JAVA_BYTE, from, frame, at, n);
                    at += n;
                }
                tx.incrementAndGet();
                frames.offer(frame);
            }
            return 0;
        }
        // Receive queue: wait briefly for a frame to echo (the worker of queue 0 is its own thread).
        byte[] frame;
        try {
            frame = frames.poll(200, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
        if (frame == null || chain.writableBytes() < HDR + frame.length) {
            return 0;
        }
        byte[] out = new byte[HDR + frame.length];
        out[10] = 1; // num_buffers
        System.arraycopy(frame, 0, out, HDR, frame.length);
        int at = 0;
        for (int i = chain.readableCount(); i < chain.count() && at < out.length; i++) {
            MemorySegment b = chain.buffer(i);
            int n = (int) Math.min(b.byteSize(), out.length - at);
            MemorySegment.copy(out, at, b, ValueLayout.JAVA_BYTE, 0, n);
            at += n;
        }
        rx.incrementAndGet();
        return at;
    }
}
