package io.qingtian.network.virtionet;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class VirtioNetPortTest {
    final Arena arena = Arena.ofAuto();
    VirtualSwitch sw;
    Port a;
    Port b;
    VirtioNetPort va;
    VirtioNetPort vb;
    FakeRing rxB;

    /** One chain: buffers with their writable flags. */
    record Chain(int head, List<MemorySegment> bufs, List<Boolean> writable) implements NetChain {
        public int count() {
            return bufs.size();
        }

        public MemorySegment buffer(int i) {
            return bufs.get(i);
        }

        public boolean isWritable(int i) {
            return writable.get(i);
        }
    }

    /** A receive ring in plain memory: available chains in order, used elements recorded. */
    static final class FakeRing implements RxRing {
        final List<Chain> posted = new ArrayList<>();
        int next;
        final List<int[]> used = new ArrayList<>();
        int published;
        int notified;

        public NetChain pop() {
            return next < posted.size() ? posted.get(next++) : null;
        }

        public void rewind(int n) {
            next -= n;
        }

        public void addUsed(int head, int len) {
            used.add(new int[] {head, len});
        }

        public void endFrame() {}

        public void publish() {
            published = used.size();
            notified++;
        }
    }

    Chain writableChain(int head, int... sizes) {
        List<MemorySegment> bufs = new ArrayList<>();
        List<Boolean> w = new ArrayList<>();
        for (int s : sizes) {
            bufs.add(arena.allocate(s));
            w.add(true);
        }
        return new Chain(head, bufs, w);
    }

    Chain txChain(byte[] headerAndFrame, int... splits) {
        List<MemorySegment> bufs = new ArrayList<>();
        List<Boolean> w = new ArrayList<>();
        int pos = 0;
        for (int s : splits) {
            MemorySegment m = arena.allocate(s);
            MemorySegment.copy(headerAndFrame, pos, m, ValueLayout.JAVA_BYTE, 0, s);
            bufs.add(m);
            w.add(false);
            pos += s;
        }
        MemorySegment rest = arena.allocate(headerAndFrame.length - pos);
        MemorySegment.copy(headerAndFrame, pos, rest, ValueLayout.JAVA_BYTE, 0, headerAndFrame.length - pos);
        bufs.add(rest);
        w.add(false);
        return new Chain(0, bufs, w);
    }

    static byte[] withHeader(byte[] frame, int flags) {
        byte[] out = new byte[12 + frame.length];
        out[0] = (byte) flags;
        System.arraycopy(frame, 0, out, 12, frame.length);
        return out;
    }

    @BeforeEach
    void setUp() {
        sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("all");
        sw.addRule("all", SecurityRule.of("udp", null, "0.0.0.0/0"));
        a = sw.createPort("a", "s", null, null, List.of("all"), null);
        b = sw.createPort("b", "s", null, null, List.of("all"), null);
        va = new VirtioNetPort(sw, a);
        vb = new VirtioNetPort(sw, b);
        long f = VirtioNet.bit(VirtioNet.F_VERSION_1) | VirtioNet.bit(VirtioNet.F_MRG_RXBUF);
        va.setFeatures(f);
        vb.setFeatures(f);
        va.setRxRing(new FakeRing());
        rxB = new FakeRing();
        vb.setRxRing(rxB);
    }

    byte[] udpAtoB(int payload) {
        return Frames.udp(a.mac(), b.mac(), a.ip(), b.ip(), 1000, 2000, new byte[payload]);
    }

    /** Reassembles what the device wrote into the used chains. */
    byte[] received(FakeRing r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int[] u : r.used) {
            Chain c = r.posted.stream().filter(ch -> ch.head() == u[0]).findFirst().orElseThrow();
            int left = u[1];
            for (MemorySegment m : c.bufs()) {
                int n = (int) Math.min(left, m.byteSize());
                out.writeBytes(m.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
                left -= n;
            }
        }
        return out.toByteArray();
    }

    @Test
    void transmitsAGuestFrameToTheOtherPortsReceiveQueue() {
        rxB.posted.add(writableChain(5, 2048));
        byte[] frame = udpAtoB(100);
        // Header split over two descriptors, as some drivers do.
        assertThat(va.transmitChain(txChain(withHeader(frame, 0), 4, 8))).isZero();
        assertThat(rxB.used).hasSize(1);
        assertThat(rxB.used.getFirst()).containsExactly(5, 12 + frame.length);
        byte[] got = received(rxB);
        assertThat(got[10]).as("num_buffers").isEqualTo((byte) 1);
        assertThat(java.util.Arrays.copyOfRange(got, 12, got.length)).isEqualTo(frame);
        assertThat(rxB.notified).isEqualTo(1);
        assertThat(sw.stats("b").txPackets()).isEqualTo(1);
    }

    @Test
    void aBatchingThreadPublishesTheReceiveRingOncePerBurstAndAtMostEvery32Frames() throws Exception {
        for (int i = 0; i < 40; i++) {
            rxB.posted.add(writableChain(i, 2048));
        }
        byte[] chainBytes = withHeader(udpAtoB(100), 0);
        int[] seen = new int[4];
        // A thread of its own: entering a batch is for the thread's lifetime (a transmit worker).
        Thread worker = new Thread(() -> {
            RxBatch.enter();
            for (int i = 0; i < 3; i++) {
                va.transmitChain(txChain(chainBytes));
            }
            seen[0] = rxB.used.size();
            seen[1] = rxB.published;
            RxBatch.flushCurrent();
            seen[2] = rxB.published;
            for (int i = 0; i < 37; i++) {
                va.transmitChain(txChain(chainBytes));
            }
            seen[3] = rxB.published;
            RxBatch.flushCurrent();
        });
        worker.start();
        worker.join();
        assertThat(seen[0]).as("frames written").isEqualTo(3);
        assertThat(seen[1]).as("published before the burst ended").isZero();
        assertThat(seen[2]).as("published at the end of the burst").isEqualTo(3);
        assertThat(seen[3]).as("a long burst is published every 32 frames").isEqualTo(3 + 32);
        assertThat(rxB.published).isEqualTo(40);
        assertThat(rxB.notified).isEqualTo(3);
        // Outside a batch (this thread) every frame is published at once.
        rxB.posted.add(writableChain(99, 2048));
        va.transmitChain(txChain(chainBytes));
        assertThat(rxB.published).isEqualTo(41);
    }

    @Test
    void spreadsALargeFrameOverMergeableBuffers() {
        for (int i = 0; i < 4; i++) {
            rxB.posted.add(writableChain(i, 256, 256));
        }
        byte[] frame = udpAtoB(1400);
        va.transmitChain(txChain(withHeader(frame, 0)));
        assertThat(rxB.used).hasSize(3);
        assertThat(rxB.used.stream().mapToInt(u -> u[1]).sum()).isEqualTo(12 + frame.length);
        byte[] got = received(rxB);
        assertThat(got[10]).isEqualTo((byte) 3);
        assertThat(java.util.Arrays.copyOfRange(got, 12, got.length)).isEqualTo(frame);
        assertThat(rxB.next).as("one chain left for the next frame").isEqualTo(3);
    }

    @Test
    void givesBuffersBackWhenTheFrameDoesNotFit() {
        rxB.posted.add(writableChain(0, 256));
        va.transmitChain(txChain(withHeader(udpAtoB(1400), 0)));
        assertThat(rxB.used).isEmpty();
        assertThat(rxB.next).isZero();
        assertThat(sw.stats("b").drops(DropReason.NO_RX_BUFFER)).isEqualTo(1);
        // Without MRG_RXBUF a too-small buffer is returned empty (the driver broke §5.1.6.3.1).
        vb.setFeatures(VirtioNet.bit(VirtioNet.F_VERSION_1));
        va.transmitChain(txChain(withHeader(udpAtoB(1400), 0)));
        assertThat(rxB.used).hasSize(1);
        assertThat(rxB.used.getFirst()[1]).isZero();
    }

    @Test
    void dropsBadHeadersAndShortChains() {
        rxB.posted.add(writableChain(0, 2048));
        va.transmitChain(txChain(withHeader(udpAtoB(10), VirtioNet.HDR_F_NEEDS_CSUM)));
        byte[] gso = withHeader(udpAtoB(10), 0);
        gso[1] = 1; // GSO_TCPV4
        va.transmitChain(txChain(gso));
        va.transmitChain(new Chain(0, List.of(arena.allocate(7)), List.of(false)));
        assertThat(rxB.used).isEmpty();
        assertThat(sw.stats("a").drops(DropReason.BAD_VIRTIO_HEADER)).isEqualTo(3);
        byte[] huge = new byte[12 + 9000];
        va.transmitChain(txChain(huge));
        assertThat(sw.stats("a").drops(DropReason.OVERSIZED)).isEqualTo(1);
    }

    @Test
    void legacyHeaderIsTenBytes() {
        va.setFeatures(0);
        vb.setFeatures(0);
        rxB.posted.add(writableChain(0, 2048));
        byte[] frame = udpAtoB(20);
        byte[] ten = new byte[10 + frame.length];
        System.arraycopy(frame, 0, ten, 10, frame.length);
        va.transmitChain(txChain(ten));
        assertThat(rxB.used.getFirst()[1]).isEqualTo(10 + frame.length);
        ParsedFrame p = new ParsedFrame();
        byte[] got = received(rxB);
        byte[] f = java.util.Arrays.copyOfRange(got, 10, got.length);
        assertThat(FrameParser.parse(f, f.length, p)).isNull();
    }

    @Test
    void configSpaceHasMacAndLinkStatus() {
        byte[] cfg = va.readConfig(0, 12);
        assertThat(MacAddress.read(cfg, 0)).isEqualTo(a.mac());
        assertThat(cfg[6]).isEqualTo((byte) VirtioNet.S_LINK_UP);
        assertThat(cfg[10] & 0xff | (cfg[11] & 0xff) << 8).isEqualTo(1500);
        va.setRxRing(null);
        assertThat(va.readConfig(6, 2)[0]).isZero();
        assertThat(va.readConfig(250, 10)).isNull();
        // A frame for a port whose receive ring is gone is counted, not lost silently.
        vb.transmitChain(txChain(withHeader(Frames.udp(b.mac(), a.mac(), b.ip(), a.ip(), 1, 2, new byte[1]), 0)));
        assertThat(sw.stats("b").drops(DropReason.UNKNOWN_DESTINATION)).isEqualTo(1);
    }
}
