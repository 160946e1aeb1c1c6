package io.qingtian.e2e.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.snapshot.DeviceState;
import io.qingtian.hypervisor.snapshot.VirtioPciState;
import io.qingtian.hypervisor.vhostuser.DataPath;
import io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec;
import io.qingtian.hypervisor.vhostuser.VhostUserProxy;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.vhostuser.VhostUserNetServer;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.virtio.queue.DriverQueue;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshot and restore of a vhost-user-net device against the card's network back-end (the
 * virtual switch's {@link VhostUserNetServer}), host side: the hypervisor's device proxy and
 * virtio-pci transport, a driver in shared memory, and the switch's ARP responder as the peer.
 * The receive ring is device-driven (the switch pops it when a frame arrives), the path blk
 * does not have: after GET_VRING_BASE at the snapshot and SET_VRING_BASE on a new connection
 * to a new socket (the card moved the NIC's export, as a load with network_overrides names),
 * the next reply lands in the next receive buffer and both used indexes continue.
 */
class VhostUserNetSnapshotTest {
    static final int GSI_BASE = 40;
    /** virtio 1.2 §6.3: this driver never writes used_event, so it does not negotiate it. */
    static final long VIRTIO_F_EVENT_IDX = 1L << 29;
    /** virtio_net_hdr with num_buffers (VERSION_1, virtio 1.2 §5.1.6). */
    static final int HDR = 12;
    static final int QSIZE = 64;
    static final long RX_DESC = 0x10000;
    static final long TX_DESC = 0x13000;
    static final long RX_BUFS = 0x100000;
    static final long TX_BUFS = 0x200000;

    @TempDir
    Path tmp;

    VirtualSwitch sw;
    Port port;
    SharedMemory mem;
    Recording dataPath;
    final Map<Integer, Long> rxBufferOf = new HashMap<>();
    int rxPosted;
    int txSent;

    /** What KVM would hold: the kick ioeventfd per notify address, the call irqfd per GSI. */
    static final class Recording implements DataPath {
        final Map<Long, Integer> kicks = new HashMap<>();
        final Map<Integer, Integer> calls = new HashMap<>();
        @Override public synchronized void registerKick(int eventFd, long notifyAddress) { kicks.put(notifyAddress, eventFd); }
        @Override public synchronized void unregisterKick(int eventFd, long notifyAddress) { kicks.remove(notifyAddress, eventFd); }
        @Override public synchronized void registerCall(int eventFd, int gsi) { calls.put(gsi, eventFd); }
        @Override public synchronized void unregisterCall(int eventFd, int gsi) { calls.remove(gsi, eventFd); }
    }

    private record Device(VhostUserProxy proxy, VirtioPciDevice pci) {
        void bar(int off, int size, long v) {
            pci.barWrite(pci.bar0(), off, size, v);
        }
    }

    @BeforeEach
    void setUp() {
        sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        port = sw.createPort("nic0", "s", Ipv4Address.parse("10.0.1.5"), MacAddress.parse("52:54:00:00:01:05"), List.of(), null);
        mem = new SharedMemory(new long[] {0}, new long[] {4 << 20});
        dataPath = new Recording();
    }

    @AfterEach
    void tearDown() {
        mem.close();
    }

    private Device build(Path socket) {
        VhostUserProxy proxy = VhostUserProxy.connect(VhostUserDeviceSpec.parseNet("socket=" + socket + ",mac=52:54:00:00:01:05"),
                mem.memory(), dataPath);
        VirtioPciDevice pci = new VirtioPciDevice(proxy, (v, m) -> { }, level -> { });
        pci.assignBar(0, 0xc000_0000L);
        pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        proxy.attach(pci, v -> GSI_BASE + v);
        return new Device(proxy, pci);
    }

    /** Firmware + virtio-net driver: MSI-X (config 0, rx 1, tx 2), features without EVENT_IDX, rx and tx of 64, DRIVER_OK. */
    private DriverQueue[] driverInit(Device d) throws Exception {
        PciConfigSpace c = d.pci().config();
        int p = c.get8(PciConfigSpace.CAPABILITIES_POINTER);
        while (c.get8(p) != MsixTable.CAP_ID) {
            p = c.get8(p + 1);
        }
        d.pci().configWrite(p + 2, 2, MsixTable.CONTROL_ENABLE);
        for (int v = 0; v < d.pci().msix().size(); v++) {
            long e = VirtioPciDevice.MSIX_TABLE + 16L * v;
            d.bar((int) e, 4, 0xfee0_0000L);
            d.bar((int) e + 8, 4, 0x40 + v);
            d.bar((int) e + 12, 4, 0);
        }
        d.bar(0x14, 1, 1 | 2);
        long features = d.proxy().deviceFeatures() & ~VIRTIO_F_EVENT_IDX;
        d.bar(0x08, 4, 0);
        d.bar(0x0c, 4, features & 0xffff_ffffL);
        d.bar(0x08, 4, 1);
        d.bar(0x0c, 4, features >>> 32);
        d.bar(0x14, 1, 1 | 2 | 8);
        d.bar(0x10, 2, 0);
        DriverQueue[] q = new DriverQueue[2];
        for (int i = 0; i < 2; i++) {
            long desc = i == 0 ? RX_DESC : TX_DESC;
            q[i] = new DriverQueue(mem.memory(), QSIZE, desc, desc + 0x1000, desc + 0x2000, false);
            d.bar(0x16, 2, i);
            d.bar(0x18, 2, QSIZE);
            d.bar(0x1a, 2, 1 + i);
            d.bar(0x20, 8, desc);
            d.bar(0x28, 8, desc + 0x1000);
            d.bar(0x30, 8, desc + 0x2000);
            d.bar(0x1c, 2, 1);
        }
        d.bar(0x14, 1, 1 | 2 | 8 | 4);
        return q;
    }

    /** Posts {@code n} receive buffers of 2 KiB (the switch pops them as frames arrive; rx is never kicked). */
    private void postRx(DriverQueue rx, int n) {
        for (int i = 0; i < n; i++) {
            long buf = RX_BUFS + 0x1000L * (rxPosted++ % 64);
            int id = rx.add(new long[] {buf}, new int[] {2048}, new boolean[] {true}, 1);
            rxBufferOf.put(id, buf);
        }
        rx.publish();
    }

    /**
     * The guest asks for the gateway's MAC: an ARP request on the transmit queue, kicked; the
     * switch's reply arrives on the receive queue with its interrupt. Returns the reply frame.
     */
    private byte[] arpGateway(Device d, DriverQueue rx, DriverQueue tx) throws Exception {
        byte[] arp = Frames.arp(FrameParser.ARP_REQUEST, port.mac(), MacAddress.parse("ff:ff:ff:ff:ff:ff"), port.mac(),
                port.ip(), MacAddress.parse("00:00:00:00:00:00"), Ipv4Address.parse("10.0.1.1"));
        long buf = TX_BUFS + 0x1000L * (txSent++ % 64);
        mem.memory().write(buf, new byte[HDR]);
        mem.memory().write(buf + HDR, arp);
        tx.add(new long[] {buf}, new int[] {HDR + arp.length}, new boolean[] {false}, 1);
        tx.publish();
        EventFd ev = new EventFd();
        ev.signal(dataPath.kicks.get(d.pci().notifyAddress(1)));
        int rxCall = dataPath.calls.get(GSI_BASE + 1);
        assertThat(ev.await(rxCall, -1, 10_000)).as("receive interrupt; port counters %s", sw.stats("nic0")).isZero();
        ev.consume(rxCall);
        int[] ids = new int[4];
        int[] lens = new int[4];
        assertThat(rx.poll(ids, lens)).isEqualTo(1);
        byte[] frame = mem.memory().read(rxBufferOf.get(ids[0]) + HDR, lens[0] - HDR);
        int txCall = dataPath.calls.get(GSI_BASE + 2);
        assertThat(ev.await(txCall, -1, 10_000)).as("transmit completion").isZero();
        ev.consume(txCall);
        assertThat(tx.poll(ids, lens)).isEqualTo(1);
        return frame;
    }

    private static void assertArpReplyFromGateway(byte[] f) {
        assertThat(f.length).isGreaterThanOrEqualTo(42);
        assertThat(((f[12] & 0xff) << 8) | (f[13] & 0xff)).as("EtherType ARP").isEqualTo(0x0806);
        assertThat(((f[20] & 0xff) << 8) | (f[21] & 0xff)).as("ARP reply").isEqualTo(FrameParser.ARP_REPLY);
        assertThat(new byte[] {f[28], f[29], f[30], f[31]}).as("sender = the gateway").containsExactly(10, 0, 1, 1);
        assertThat(new byte[] {f[38], f[39], f[40], f[41]}).as("target = the guest").containsExactly(10, 0, 1, 5);
    }

    @Test
    void restoredNicOnANewSocketContinuesBothRingsWhereTheSnapshotLeftThem() throws Exception {
        Path first = tmp.resolve("nic0-a.sock");
        Path moved = tmp.resolve("nic0-b.sock");
        VhostUserNetServer server = VhostUserNetServer.start(sw, port, first);
        Device a = build(first);
        DriverQueue[] q = driverInit(a);
        postRx(q[0], 4);
        assertArpReplyFromGateway(arpGateway(a, q[0], q[1]));
        assertArpReplyFromGateway(arpGateway(a, q[0], q[1]));
        VirtioPciState s = a.pci().saveState();
        assertThat(s.ringBases()).as("GET_VRING_BASE: rx popped 2 buffers, tx sent 2 frames").containsExactly(2, 2);
        byte[] saved = s.encode();
        a.proxy().close(); // the source hypervisor is gone
        server.close(); // and the card serves the NIC on another socket now
        server = VhostUserNetServer.start(sw, port, moved);
        try {
            Device b = build(moved);
            try {
                b.pci().restoreState((VirtioPciState) DeviceState.decode("pci.0", saved));
                assertThat(b.pci().activated()).isTrue();
                assertThat(b.pci().status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();
                // Two buffers are still posted from before the snapshot; the reply takes the next one.
                assertArpReplyFromGateway(arpGateway(b, q[0], q[1]));
                assertThat(mem.memory().readU16(RX_DESC + 0x2000 + 2)).as("rx used index continued").isEqualTo(3);
                assertThat(mem.memory().readU16(TX_DESC + 0x2000 + 2)).as("tx used index continued").isEqualTo(3);
                postRx(q[0], 2);
                assertArpReplyFromGateway(arpGateway(b, q[0], q[1]));
                assertThat(b.pci().saveState().ringBases()).containsExactly(4, 4);
            } finally {
                b.proxy().close();
            }
        } finally {
            server.close();
        }
    }
}
