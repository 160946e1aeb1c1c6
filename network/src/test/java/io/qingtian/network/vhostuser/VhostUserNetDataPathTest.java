package io.qingtian.network.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.frontend.FrontendRing;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Frames through two exported vNICs, with our own vhost-user front-end on both sides: every
 * frame arrives intact and in order (the transmit worker switches them in bursts; the
 * receive ring is walked ahead of the frames), a receive chain the device cannot use comes back
 * empty, and when the receive ring stops, the buffers the device walked ahead but did not fill
 * are the driver's again (the ring's base is the count of the used ones).
 */
class VhostUserNetDataPathTest {
    private static final long F_MRG_RXBUF = 1L << 15;
    private static final long F_PROTOCOL_FEATURES = 1L << 30;
    private static final long F_VERSION_1 = 1L << 32;
    private static final int QSIZE = 128;
    private static final int SLOT = 2048;
    private static final MacAddress MAC_A = MacAddress.parse("02:00:00:00:00:0a");
    private static final MacAddress MAC_B = MacAddress.parse("02:00:00:00:00:0b");
    private static final Ipv4Address IP_A = Ipv4Address.parse("10.0.1.2");
    private static final Ipv4Address IP_B = Ipv4Address.parse("10.0.1.3");

    @TempDir
    Path dir;

    /** One NIC's front-end: shared memory and its receive (0) and transmit (1) rings. */
    static final class Nic {
        final SharedMemory mem = new SharedMemory(new long[] {0x100000}, new long[] {4 << 20});
        final VhostUserFrontend fe;
        final DriverQueue[] rings = new DriverQueue[2];
        final int[] kick = new int[2];
        final EventFd ev = new EventFd();

        Nic(Path socket) throws Exception {
            fe = VhostUserFrontend.connect(socket);
            fe.setOwner();
            fe.getFeatures();
            fe.setProtocolFeatures(fe.getProtocolFeatures() & (1L << 3)); // REPLY_ACK
            fe.setFeatures(F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES);
            fe.setMemTable(VhostUserFrontend.memoryTable(mem.memory()), VhostUserFrontend.memoryTableFds(mem.memory()));
            for (int q = 0; q < 2; q++) {
                FrontendRing r = FrontendRing.start(fe, mem, 0, q, QSIZE, false);
                rings[q] = r.queue();
                kick[q] = r.kickFd();
            }
        }

        /** Adds one single-buffer chain to ring q; returns its head. */
        int add(int q, long gpa, int len, boolean writable) {
            return rings[q].add(new long[] {gpa}, new int[] {len}, new boolean[] {writable}, 1);
        }

        void publish(int q) {
            rings[q].publish();
            if (rings[q].needsKick()) {
                ev.signal(kick[q]);
            }
        }
    }

    private static byte[] frame(int i) {
        byte[] payload = new byte[18 + i];
        Arrays.fill(payload, (byte) i);
        return Frames.udp(MAC_A, MAC_B, IP_A, IP_B, 1024, 2048 + i, payload);
    }

    @Test
    void framesArriveIntactInOrderAndUnfilledBuffersGoBackWhenTheRingStops() throws Exception {
        run(-1);
    }

    @Test
    void aReceiveChainTheDeviceCannotUseComesBackEmpty() throws Exception {
        run(5);
    }

    /** {@code badAt}: the receive chain at this position is device-readable only (unusable), -1 for none. */
    private void run(int badAt) throws Exception {
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("g");
        sw.addRule("g", SecurityRule.of("udp", null, "10.0.0.0/16"));
        sw.createPort("a", "s", IP_A, MAC_A, List.of("g"), null);
        sw.createPort("b", "s", IP_B, MAC_B, List.of("g"), null);
        int frames = 40;
        int posted = 100;
        try (VhostUserNetServer sa = VhostUserNetServer.start(sw, sw.port("a"), dir.resolve("a.sock"));
             VhostUserNetServer sb = VhostUserNetServer.start(sw, sw.port("b"), dir.resolve("b.sock"))) {
            Nic a = new Nic(sa.socketPath());
            Nic b = new Nic(sb.socketPath());
            long[] rxSlot = new long[QSIZE];
            for (int i = 0; i < posted; i++) {
                long gpa = b.mem.allocate(0, SLOT, 64);
                rxSlot[b.add(0, gpa, SLOT, i != badAt)] = gpa;
            }
            b.publish(0);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!sw.port("b").linkUp()) {
                assertThat(System.nanoTime()).as("b's receive ring started").isLessThan(deadline);
                Thread.sleep(5);
            }
            for (int i = 0; i < frames; i++) {
                byte[] f = frame(i);
                long gpa = a.mem.allocate(0, 12 + f.length, 64);
                MemorySegment s = a.mem.slice(gpa, 12 + f.length);
                s.fill((byte) 0);
                MemorySegment.copy(f, 0, s, ValueLayout.JAVA_BYTE, 12, f.length);
                a.add(1, gpa, 12 + f.length, false);
            }
            a.publish(1);

            int[] ids = new int[QSIZE];
            int[] lens = new int[QSIZE];
            List<int[]> used = new ArrayList<>();
            int expected = frames + (badAt >= 0 ? 1 : 0);
            while (used.size() < expected) {
                assertThat(System.nanoTime()).as("%d of %d used receive buffers: %s", used.size(), expected, sw.stats("b"))
                        .isLessThan(deadline);
                int n = b.rings[0].poll(ids, lens);
                for (int k = 0; k < n; k++) {
                    used.add(new int[] {ids[k], lens[k]});
                }
                if (n == 0) {
                    Thread.sleep(1);
                }
            }
            int next = 0;
            for (int[] u : used) {
                if (u[1] == 0) {
                    assertThat(badAt).as("an empty used buffer").isNotNegative();
                    continue;
                }
                byte[] want = frame(next++);
                assertThat(u[1]).isEqualTo(12 + want.length);
                byte[] got = b.mem.slice(rxSlot[u[0]], u[1]).toArray(ValueLayout.JAVA_BYTE);
                assertThat(got[10]).as("num_buffers").isEqualTo((byte) 1);
                assertThat(Arrays.copyOfRange(got, 12, got.length)).as("frame %d", next - 1).isEqualTo(want);
            }
            assertThat(next).isEqualTo(frames);
            assertThat(sw.stats("b").txPackets()).isEqualTo(frames);

            // Stopping the receive ring: its base counts exactly the buffers the device used
            // (filled or given back empty), not the ones it had walked ahead.
            assertThat(b.fe.getVringBase(0)).isEqualTo(expected);
            a.fe.close();
            b.fe.close();
        }
    }
}
