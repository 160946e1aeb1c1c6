import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.vhostuser.VhostUserNetServer;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.frontend.FrontendRing;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The vhost-user-net data path without DPDK: our own vhost-user front-end (one Java thread
 * that polls, like testpmd) transmits frames on NIC a and receives them on NIC b through the
 * switch (same setup as ServeSwitch: security group, connection tracking, counters), all in
 * one JVM so the switch's transmit worker thread's CPU time can be read exactly. Reports
 * frames/s and the worker's CPU nanoseconds per frame, which does not depend on how busy the
 * machine is (unlike packets/s): {@code java -cp ... DataPathMicro [FRAME_BYTES] [SECONDS]}. The
 * front-end polls and, like testpmd's virtio PMD, asks for no interrupts ({@code -Dinterrupts=true}
 * asks for them, as the rounds before 2026-11-26 11:40 did).
 */
public class DataPathMicro {
    static final long F_MRG_RXBUF = 1L << 15;
    static final long F_PROTOCOL_FEATURES = 1L << 30;
    static final long F_VERSION_1 = 1L << 32;
    static final int QSIZE = 256;
    static final int HDR = 12;
    static final int SLOT = 2048;
    /** -Dinterrupts=true: the front-end asks for call eventfd writes (the default of the earlier rounds' numbers). */
    static final boolean INTERRUPTS = Boolean.getBoolean("interrupts");

    /** One NIC's front-end: shared memory, the receive (0) and transmit (1) rings and their eventfds. */
    static final class Nic {
        final SharedMemory mem = new SharedMemory(new long[] {0x100000}, new long[] {16 << 20});
        final DriverQueue[] rings = new DriverQueue[2];
        final int[] kick = new int[2];
        final long[] slots = new long[QSIZE];
        final int[] slotOfHead = new int[QSIZE];
        final int[] free = new int[QSIZE];
        int freeCount;
        final EventFd ev = new EventFd();

        Nic(Path socket) throws Exception {
            VhostUserFrontend fe = VhostUserFrontend.connect(socket);
            fe.setOwner();
            fe.getFeatures();
            fe.setProtocolFeatures(fe.getProtocolFeatures() & (1L << 3)); // REPLY_ACK: every request is acknowledged
            fe.setFeatures(F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES);
            fe.setMemTable(VhostUserFrontend.memoryTable(mem.memory()), VhostUserFrontend.memoryTableFds(mem.memory()));
            for (int q = 0; q < 2; q++) {
                FrontendRing r = FrontendRing.start(fe, mem, 0, q, QSIZE, false);
                rings[q] = r.queue();
                kick[q] = r.kickFd();
                if (!INTERRUPTS) {
                    // A polling driver asks for no interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT, virtio 1.2
                    // §2.7.7), as DPDK's virtio PMD does for its rings: the back-end then writes no call
                    // eventfd, in this benchmark as with testpmd.
                    mem.slice(r.queue().availGpa(), 2).set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED
                            .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0, (short) 1);
                }
            }
            for (int i = 0; i < QSIZE; i++) {
                slots[i] = mem.allocate(0, SLOT, 64);
                free[freeCount++] = i;
            }
        }

        /** Adds every free slot to ring q as one buffer of {@code len} bytes; publishes and kicks if asked. */
        void post(int q, int len, boolean writable) {
            DriverQueue r = rings[q];
            long[] addr = new long[1];
            int[] lens = {len};
            boolean[] w = {writable};
            while (freeCount > 0 && r.freeCount() > 0) {
                int s = free[--freeCount];
                addr[0] = slots[s];
                slotOfHead[r.add(addr, lens, w, 1)] = s;
            }
            r.publish();
            if (r.needsKick()) {
                ev.signal(kick[q]);
            }
        }

        /** Takes back used buffers of ring q; returns how many. */
        int reclaim(int q, int[] ids, int[] lens) {
            int n = rings[q].poll(ids, lens);
            for (int i = 0; i < n; i++) {
                free[freeCount++] = slotOfHead[ids[i]];
            }
            return n;
        }
    }

    public static void main(String[] args) throws Exception {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        Path dir = Files.createTempDirectory("qt-datapath");
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("bench", Cidr.parse("10.0.0.0/16"), "bench");
        sw.createSubnet("s", "bench", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("bench");
        sw.addRule("bench", SecurityRule.of("udp", null, "10.0.0.0/16"));
        MacAddress macA = MacAddress.parse("02:00:00:00:00:0a");
        MacAddress macB = MacAddress.parse("02:00:00:00:00:0b");
        Ipv4Address ipA = Ipv4Address.parse("10.0.1.2");
        Ipv4Address ipB = Ipv4Address.parse("10.0.1.3");
        sw.createPort("a", "s", ipA, macA, List.of("bench"), null);
        sw.createPort("b", "s", ipB, macB, List.of("bench"), null);
        try (VhostUserNetServer sa = VhostUserNetServer.start(sw, sw.port("a"), dir.resolve("a.sock"));
             VhostUserNetServer sb = VhostUserNetServer.start(sw, sw.port("b"), dir.resolve("b.sock"))) {
            Nic a = new Nic(sa.socketPath());
            Nic b = new Nic(sb.socketPath());
            byte[] frame = Frames.udp(macA, macB, ipA, ipB, 1024, 1024, new byte[size - 42]);
            for (long gpa : a.slots) {
                a.mem.slice(gpa, HDR).fill((byte) 0);
                java.lang.foreign.MemorySegment.copy(frame, 0, a.mem.slice(gpa + HDR, frame.length),
                        java.lang.foreign.ValueLayout.JAVA_BYTE, 0, frame.length);
            }
            b.post(0, SLOT, true);
            Thread.sleep(200); // the rings start on the back-end's connection threads
            var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long worker = -1;
            int[] ids = new int[QSIZE];
            int[] lens = new int[QSIZE];
            long received = 0;
            long startWall = 0;
            long startCpu = 0;
            long startReceived = 0;
            long startAlloc = 0;
            long warmupEnd = System.nanoTime() + 2_000_000_000L;
            long end = warmupEnd + seconds * 1_000_000_000L;
            boolean measuring = false;
            while (true) {
                a.reclaim(1, ids, lens);
                a.post(1, HDR + frame.length, false);
                int n = b.reclaim(0, ids, lens);
                if (n > 0) {
                    received += n;
                    b.post(0, SLOT, true);
                }
                long now = System.nanoTime();
                if (!measuring && now >= warmupEnd) {
                    worker = findWorker(mx);
                    startWall = now;
                    startCpu = mx.getThreadCpuTime(worker);
                    startAlloc = mx.getThreadAllocatedBytes(worker);
                    startReceived = received;
                    measuring = true;
                } else if (measuring && now >= end) {
                    long frames = received - startReceived;
                    long cpu = mx.getThreadCpuTime(worker) - startCpu;
                    long alloc = mx.getThreadAllocatedBytes(worker) - startAlloc;
                    double secs = (now - startWall) / 1e9;
                    // Allocation of the worker thread per frame (what JMH's -prof gc reports as gc.alloc.rate.norm).
                    System.out.printf("datapath %dB frames/s=%.0f worker_cpu_ns_per_frame=%.0f worker_cpu_share=%.2f "
                                    + "worker_alloc_bytes_per_frame=%.3f stats b: %s%n",
                            size, frames / secs, frames > 0 ? (double) cpu / frames : 0, cpu / 1e9 / secs,
                            frames > 0 ? (double) alloc / frames : 0, sw.stats("b"));
                    break;
                }
            }
        }
        System.exit(0);
    }

    /** The thread serving NIC a's transmit ring (named after the ring: "-q1", or "-tx" in older versions). */
    static long findWorker(java.lang.management.ThreadMXBean mx) {
        for (ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
            if (t != null && t.getThreadName().startsWith("vhost-user-net:a")
                    && (t.getThreadName().endsWith("-q1") || t.getThreadName().endsWith("-tx"))) {
                return t.getThreadId();
            }
        }
        throw new IllegalStateException("no transmit worker thread for NIC a");
    }
}
