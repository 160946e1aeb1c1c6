package io.qingtian.hypervisor.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.snapshot.DeviceState;
import io.qingtian.hypervisor.snapshot.VirtioPciState;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.virtio.queue.DriverQueue;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ring state of a vhost-user device across a snapshot, against the card's real back-end
 * (VhostUserBlkServer): GET_VRING_BASE stops the ring and gives the position; the source can
 * go on after {@code resumeAfterSnapshot}; a new front-end (the restored hypervisor) on a new
 * connection re-sends features and the memory table, SET_VRING_BASE to the saved position,
 * and the driver's next request is served as if nothing happened.
 */
class VhostUserSnapshotTest {
    static final int GSI_BASE = 40;

    @TempDir
    Path tmp;

    Path sock;
    VhostUserProxyTest.MemBackend disk;
    VhostUserBlkServer server;
    SharedMemory mem;
    VhostUserProxyTest.RecordingDataPath dataPath;

    @BeforeEach
    void setUp() {
        sock = tmp.resolve("blk.sock");
        disk = new VhostUserProxyTest.MemBackend();
        for (int s = 0; s < 16; s++) {
            for (int i = 0; i < 512; i++) {
                disk.data[512 * s + i] = (byte) (i * 7 + s);
            }
        }
        server = VhostUserBlkServer.start(sock, disk, 2, false);
        mem = new SharedMemory(new long[] {0}, new long[] {4 << 20});
        dataPath = new VhostUserProxyTest.RecordingDataPath();
    }

    @AfterEach
    void tearDown() {
        server.close();
        mem.close();
    }

    private record Device(VhostUserProxy proxy, VirtioPciDevice pci) {
        void bar(int off, int size, long v) {
            pci.barWrite(pci.bar0(), off, size, v);
        }
    }

    private Device build() {
        VhostUserProxy proxy = VhostUserProxy.connect(VhostUserDeviceSpec.parseDisk("socket=" + sock), mem.memory(), dataPath);
        VirtioPciDevice pci = new VirtioPciDevice(proxy, (v, m) -> { }, level -> { });
        pci.assignBar(0, 0xc000_0000L);
        pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        proxy.attach(pci, v -> GSI_BASE + v);
        return new Device(proxy, pci);
    }

    /** Firmware + driver: BAR, MSI-X with every vector unmasked, features, queue 0 of 64 entries, DRIVER_OK. */
    private DriverQueue driverInit(Device d) throws Exception {
        TransportDriver.enableMsix(d.pci());
        // Without EVENT_IDX: this driver never writes used_event, so every completion interrupts.
        return TransportDriver.init(d.pci(), mem.memory(), d.proxy().deviceFeatures() & ~VhostUserProxy.VIRTIO_F_EVENT_IDX, true);
    }

    /** Reads {@code sector} through queue 0, kicking and waiting on the eventfds KVM would hold now. */
    private byte[] readSector(Device d, DriverQueue q, long sector) throws Exception {
        int kick = dataPath.kicks.get(d.pci().notifyAddress(0));
        int call = dataPath.calls.get(GSI_BASE + 1);
        long hdr = 0x20000;
        long data = 0x21000;
        long status = 0x22000;
        mem.memory().writeU32(hdr, 0);
        mem.memory().writeU32(hdr + 4, 0);
        mem.memory().writeU64(hdr + 8, sector);
        mem.memory().write(status, new byte[] {(byte) 0xff});
        q.add(new long[] {hdr, data, status}, new int[] {16, 512, 1}, new boolean[] {false, true, true}, 3);
        q.publish();
        EventFd ev = new EventFd();
        ev.signal(kick);
        int r = ev.await(call, -1, 10_000);
        assertThat(r).as("completion interrupt; used idx %d status %d calls %s kicks %s", mem.memory().readU16(0x12002),
                mem.memory().read(status, 1)[0], dataPath.calls, dataPath.kicks).isZero();
        ev.consume(call);
        int[] ids = new int[1];
        int[] lens = new int[1];
        assertThat(q.poll(ids, lens)).isEqualTo(1);
        assertThat(mem.memory().read(status, 1)[0]).isZero();
        return mem.memory().read(data, 512);
    }

    @Test
    void snapshotRecordsTheRingPositionAndTheSourceGoesOnAfterIt() throws Exception {
        Device a = build();
        try {
            DriverQueue q = driverInit(a);
            readSector(a, q, 1);
            readSector(a, q, 2);
            VirtioPciState s = a.pci().saveState();
            assertThat(s.ringBases()[0]).as("GET_VRING_BASE after two requests").isEqualTo(2);
            assertThat(s.ringBases()[1]).as("queue 1 was never enabled").isEqualTo(-1);
            a.pci().resumeAfterSnapshot();
            assertThat(readSector(a, q, 3)[5]).isEqualTo((byte) (5 * 7 + 3));
        } finally {
            a.proxy().close();
        }
    }

    @Test
    void restoredDeviceOnANewConnectionContinuesAtTheSavedRingPosition() throws Exception {
        Device a = build();
        DriverQueue q = driverInit(a);
        readSector(a, q, 4);
        byte[] saved = a.pci().saveState().encode();
        a.proxy().close(); // the source hypervisor is gone

        Device b = build(); // the restored hypervisor connects anew
        try {
            VirtioPciState s = (VirtioPciState) DeviceState.decode("pci.0", saved);
            b.pci().restoreState(s);
            assertThat(b.pci().activated()).isTrue();
            assertThat(b.pci().status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();
            assertThat(dataPath.kicks).as("kick ioeventfd at the restored BAR").containsKey(0xc000_0000L + VirtioPciDevice.NOTIFY);
            assertThat(dataPath.calls).as("call irqfd on the restored vector's GSI").containsKey(GSI_BASE + 1);
            byte[] next = readSector(b, q, 9);
            assertThat(next[0]).isEqualTo((byte) 9);
            assertThat(next[511]).isEqualTo((byte) (511 * 7 + 9));
            assertThat(mem.memory().readU16(0x12000 + 2)).as("used index continued").isEqualTo(2);
        } finally {
            b.proxy().close();
        }
    }

    @Test
    void aBackEndWithoutANegotiatedFeatureLeavesTheRestoredDeviceNeedingReset() throws Exception {
        Device a = build();
        DriverQueue q = driverInit(a);
        readSector(a, q, 1);
        VirtioPciState s = a.pci().saveState();
        a.proxy().close();
        long unknown = 1L << 40; // a feature this back-end never offered
        VirtioPciState forged = new VirtioPciState(s.deviceType(), s.config(), s.msixEnabled(), s.msixFunctionMasked(),
                s.msixTable(), s.msixPending(), s.deviceFeatureSelect(), s.driverFeatureSelect(), s.driverFeatures() | unknown,
                s.msixConfigVector(), s.status(), s.configGeneration(), s.queueSelect(), s.isr(), s.activated(), s.queues(),
                s.ringBases());
        Device b = build();
        try {
            b.pci().restoreState(forged);
            assertThat(b.pci().status() & VirtioPciDevice.STATUS_NEEDS_RESET).isNotZero();
            assertThat(dataPath.kicks).as("no ring was started").isEmpty();
        } finally {
            b.proxy().close();
        }
    }
}
