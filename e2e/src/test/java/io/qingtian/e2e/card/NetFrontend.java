package io.qingtian.e2e.card;

import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.frontend.FrontendRing;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A minimal virtio-net driver on our vhost-user front-end: shared memory, the receive (0) and
 * transmit (1) rings, one frame out and one frame in, with the 12-byte virtio-net header
 * (VERSION_1 + MRG_RXBUF, virtio 1.x §5.1.6).
 */
final class NetFrontend implements AutoCloseable {
    private static final long F_MRG_RXBUF = 1L << 15;
    private static final long F_PROTOCOL_FEATURES = 1L << 30;
    private static final long F_VERSION_1 = 1L << 32;
    private static final int HDR = 12;

    private final SharedMemory mem = new SharedMemory(new long[] {0x100000}, new long[] {4 << 20});
    private final VhostUserFrontend fe;
    private final DriverQueue[] rings = new DriverQueue[2];
    private final int[] kick = new int[2];
    private final EventFd ev = new EventFd();
    private long rxBuffer;

    NetFrontend(Path socket) throws Exception {
        fe = VhostUserFrontend.connect(socket);
        fe.setOwner();
        fe.getFeatures();
        fe.setProtocolFeatures(fe.getProtocolFeatures() & (1L << 3)); // REPLY_ACK
        fe.setFeatures(F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES);
        fe.setMemTable(VhostUserFrontend.memoryTable(mem.memory()), VhostUserFrontend.memoryTableFds(mem.memory()));
        for (int q = 0; q < 2; q++) {
            FrontendRing r = FrontendRing.start(fe, mem, 0, q, 64, false);
            rings[q] = r.queue();
            kick[q] = r.kickFd();
        }
        rxBuffer = mem.allocate(0, 2048, 64);
        rings[0].add(new long[] {rxBuffer}, new int[] {2048}, new boolean[] {true}, 1);
        publish(0);
    }

    private void publish(int q) {
        rings[q].publish();
        if (rings[q].needsKick()) {
            ev.signal(kick[q]);
        }
    }

    void send(byte[] frame) {
        long gpa = mem.allocate(0, HDR + frame.length, 64);
        MemorySegment s = mem.slice(gpa, HDR + frame.length);
        s.fill((byte) 0);
        MemorySegment.copy(frame, 0, s, ValueLayout.JAVA_BYTE, HDR, frame.length);
        rings[1].add(new long[] {gpa}, new int[] {HDR + frame.length}, new boolean[] {false}, 1);
        publish(1);
    }

    /** The next frame the device delivered, or null after {@code seconds}. */
    byte[] receive(int seconds) throws InterruptedException {
        int[] ids = new int[1];
        int[] lens = new int[1];
        long deadline = System.nanoTime() + seconds * 1_000_000_000L; // ends when a frame is there
        while (rings[0].poll(ids, lens) == 0) {
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.sleep(2);
        }
        byte[] got = mem.slice(rxBuffer, lens[0]).toArray(ValueLayout.JAVA_BYTE);
        return Arrays.copyOfRange(got, HDR, got.length);
    }

    @Override
    public void close() {
        fe.close();
    }
}
