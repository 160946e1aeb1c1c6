package io.qingtian.hypervisor.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.UserError;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.virtio.blk.BlockBackend;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vhost-user device proxy against the real back-end the card uses (VhostUserBlkServer),
 * with the guest played by a driver-side queue in memfd memory and KVM played by a data
 * path that records the eventfds (the test signals the kick fd as KVM's ioeventfd would and
 * waits on the call fd as KVM's irqfd would).
 */
class VhostUserProxyTest {
    static final long SECTORS = 2048;
    static final int GSI_BASE = 40;

    @TempDir
    Path tmp;

    Path sock;
    MemBackend disk;
    VhostUserBlkServer server;
    SharedMemory mem;
    RecordingDataPath dataPath;
    VhostUserProxy proxy;
    VirtioPciDevice pci;
    final List<Integer> msi = new ArrayList<>();

    static final class MemBackend implements BlockBackend {
        final byte[] data = new byte[(int) (SECTORS * 512)];
        @Override public long sizeBytes() { return data.length; }
        @Override public boolean readOnly() { return false; }
        @Override public synchronized void read(long offset, MemorySegment dst) {
            MemorySegment.copy(data, (int) offset, dst, ValueLayout.JAVA_BYTE, 0, (int) dst.byteSize());
        }
        @Override public synchronized void write(long offset, MemorySegment src) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, data, (int) offset, (int) src.byteSize());
        }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) { }
        @Override public void writeZeroes(long offset, long length, boolean unmap) { }
        @Override public String serial() { return "proxy-test"; }
        @Override public void close() { }
    }

    static final class RecordingDataPath implements DataPath {
        final Map<Long, Integer> kicks = new HashMap<>();
        final Map<Integer, Integer> calls = new HashMap<>();

        @Override public synchronized void registerKick(int eventFd, long notifyAddress) { kicks.put(notifyAddress, eventFd); }
        @Override public synchronized void unregisterKick(int eventFd, long notifyAddress) { kicks.remove(notifyAddress, eventFd); }
        @Override public synchronized void registerCall(int eventFd, int gsi) { calls.put(gsi, eventFd); }
        @Override public synchronized void unregisterCall(int eventFd, int gsi) { calls.remove(gsi, eventFd); }
    }

    @BeforeEach
    void setUp() {
        sock = tmp.resolve("blk.sock");
        disk = new MemBackend();
        for (int i = 0; i < 512; i++) {
            disk.data[512 * 7 + i] = (byte) (i * 7 + 1);
        }
        server = VhostUserBlkServer.start(sock, disk, 2, false);
        mem = new SharedMemory(new long[] {0}, new long[] {4 << 20});
        dataPath = new RecordingDataPath();
    }

    @AfterEach
    void tearDown() {
        if (proxy != null) {
            proxy.close();
        }
        server.close();
        mem.close();
    }

    private void build(VhostUserDeviceSpec spec) {
        proxy = VhostUserProxy.connect(spec, mem.memory(), dataPath);
        pci = new VirtioPciDevice(proxy, new MsixTable.Listener() {
            @Override public void deliver(int vector, io.qingtian.hypervisor.pci.MsiMessage m) { synchronized (msi) { msi.add(vector); } }
        }, level -> { });
        pci.assignBar(0, 0xc000_0000L);
        pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        proxy.attach(pci, v -> GSI_BASE + v);
    }

    private void common(int off, int size, long v) {
        pci.barWrite(pci.bar0(), off, size, v);
    }

    private long common(int off, int size) {
        return pci.barRead(pci.bar0(), off, size);
    }

    private void enableMsix() {
        TransportDriver.enableMsix(pci);
    }

    /** The driver's init sequence (virtio 1.2 §3.1.1) with queue 0 at fixed addresses. */
    private DriverQueue driverInit(boolean msix) throws Exception {
        DriverQueue q = TransportDriver.init(pci, mem.memory(), proxy.deviceFeatures(), msix);
        assertThat(common(0x14, 1) & 8).as("FEATURES_OK kept").isEqualTo(8);
        return q;
    }

    /** Reads sector {@code sector} through queue 0 and returns the 512 bytes. */
    private byte[] readSector(DriverQueue q, long sector, int kickFd, int waitFd) throws Exception {
        long hdr = 0x20000;
        long data = 0x21000;
        long status = 0x22000;
        mem.memory().writeU32(hdr, 0); // VIRTIO_BLK_T_IN
        mem.memory().writeU32(hdr + 4, 0);
        mem.memory().writeU64(hdr + 8, sector);
        mem.memory().write(status, new byte[] {(byte) 0xff});
        q.add(new long[] {hdr, data, status}, new int[] {16, 512, 1}, new boolean[] {false, true, true}, 3);
        q.publish();
        EventFd ev = new EventFd();
        ev.signal(kickFd); // what KVM's ioeventfd does on the guest's notify write
        assertThat(ev.await(waitFd, -1, 60_000)).as("interrupt from the back-end").isZero();
        ev.consume(waitFd);
        int[] ids = new int[1];
        int[] lens = new int[1];
        assertThat(q.poll(ids, lens)).isEqualTo(1);
        assertThat(mem.memory().read(status, 1)[0]).isZero();
        return mem.memory().read(data, 512);
    }

    private static void await(BooleanSupplier cond, String what) throws InterruptedException {
        // Generous: the condition ends the wait; the limit only has to outlast a loaded CI machine.
        Instant end = Instant.now().plus(Duration.ofSeconds(60));
        while (!cond.getAsBoolean()) {
            assertThat(Instant.now()).as(what).isBefore(end);
            Thread.sleep(20);
        }
    }

    @Test
    void negotiatesWithTheBackEndAndRelaysConfig() {
        build(VhostUserDeviceSpec.parseDisk("socket=" + sock));
        assertThat(proxy.deviceType()).isEqualTo(2);
        assertThat(proxy.queueCount()).isEqualTo(2);
        assertThat(proxy.deviceFeatures() & VirtioPciDevice.VIRTIO_F_VERSION_1).isNotZero();
        assertThat(proxy.deviceFeatures() & (1L << VhostUserProxy.VIRTIO_BLK_F_RO)).isZero();
        assertThat(proxy.deviceFeatures() & (1L << 30)).as("PROTOCOL_FEATURES is vhost-user's, not the guest's").isZero();
        assertThat(pci.barRead(pci.bar0(), VirtioPciDevice.DEVICE_CONFIG, 8)).as("capacity via GET_CONFIG").isEqualTo(SECTORS);
    }

    @Test
    void readOnlyAndQueueLimitAreTheHypervisorsToSet() {
        build(VhostUserDeviceSpec.parseDisk("socket=" + sock + ",readonly,queues=1"));
        assertThat(proxy.queueCount()).isEqualTo(1);
        assertThat(proxy.deviceFeatures() & (1L << VhostUserProxy.VIRTIO_BLK_F_RO)).isNotZero();
    }

    @Test
    void msixDataPathBindsKickToNotifyAddressAndCallToTheVectorsGsi() throws Exception {
        build(VhostUserDeviceSpec.parseDisk("socket=" + sock));
        enableMsix();
        DriverQueue q = driverInit(true);
        long notify = pci.notifyAddress(0);
        assertThat(notify).isEqualTo(0xc000_0000L + VirtioPciDevice.NOTIFY);
        int kick = dataPath.kicks.get(notify);
        int call = dataPath.calls.get(GSI_BASE + 1);
        byte[] s = readSector(q, 7, kick, call);
        assertThat(s[0]).isEqualTo((byte) 1);
        assertThat(s[511]).isEqualTo((byte) (511 * 7 + 1));
        assertThat(msi).as("completions bypass the transport").isEmpty();

        common(0x14, 1, 0); // driver reset: rings stopped, eventfds unregistered
        assertThat(dataPath.kicks).isEmpty();
        assertThat(dataPath.calls).isEmpty();
    }

    @Test
    void intxModeRelaysCompletionsThroughTheTransport() throws Exception {
        List<Integer> levels = new ArrayList<>();
        proxy = VhostUserProxy.connect(VhostUserDeviceSpec.parseDisk("socket=" + sock), mem.memory(), dataPath);
        pci = new VirtioPciDevice(proxy, (v, m) -> { }, l -> { synchronized (levels) { levels.add(l); } });
        pci.assignBar(0, 0xc000_0000L);
        proxy.attach(pci, v -> GSI_BASE + v);
        DriverQueue q = driverInit(false);
        assertThat(dataPath.calls).isEmpty();
        int kick = dataPath.kicks.get(pci.notifyAddress(0));
        long hdr = 0x20000;
        mem.memory().writeU32(hdr, 0);
        mem.memory().writeU64(hdr + 8, 7);
        q.add(new long[] {hdr, 0x21000, 0x22000}, new int[] {16, 512, 1}, new boolean[] {false, true, true}, 3);
        q.publish();
        new EventFd().signal(kick);
        await(() -> { synchronized (levels) { return levels.contains(1); } }, "INTx asserted");
        assertThat(common((int) VirtioPciDevice.ISR, 1) & 1).as("ISR queue bit").isEqualTo(1);
        assertThat(mem.memory().read(0x21000, 1)[0]).isEqualTo((byte) 1);
    }

    @Test
    void backEndRestartSetsNeedsResetThenTheDriversResetReactivates() throws Exception {
        // A card without inflight tracking (with it the rings resume: VhostUserProxyInflightTest).
        server.close();
        server = VhostUserBlkServer.start(sock, disk, 2, false, false);
        build(VhostUserDeviceSpec.parseDisk("socket=" + sock));
        enableMsix();
        DriverQueue q = driverInit(true);
        readSector(q, 7, dataPath.kicks.get(pci.notifyAddress(0)), dataPath.calls.get(GSI_BASE + 1));
        assertThat(pci.barRead(pci.bar0(), VirtioPciDevice.DEVICE_CONFIG, 8)).isEqualTo(SECTORS);

        server.close(); // the card goes away
        await(() -> (pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        // The driver re-reads its config on that interrupt: the disk keeps its size meanwhile.
        assertThat(pci.barRead(pci.bar0(), VirtioPciDevice.DEVICE_CONFIG, 8)).isEqualTo(SECTORS);
        assertThat(dataPath.kicks).isEmpty();
        assertThat(msi).as("config interrupt on vector 0").contains(0);
        assertThat(proxy.disconnects()).isEqualTo(1);

        server = VhostUserBlkServer.start(sock, disk, 2, false, false); // the card is back
        await(proxy::connected, "reconnected");
        q = driverInit(true); // the driver's reset and re-initialisation
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();
        byte[] s = readSector(q, 7, dataPath.kicks.get(pci.notifyAddress(0)), dataPath.calls.get(GSI_BASE + 1));
        assertThat(s[1]).isEqualTo((byte) 8);
    }

    @Test
    void activationWhileDisconnectedStartsWhenTheBackEndReturns() throws Exception {
        build(VhostUserDeviceSpec.parseDisk("socket=" + sock));
        enableMsix();
        server.close();
        await(() -> !proxy.connected(), "disconnect noticed");
        // The guest re-probes before the card is back: DRIVER_OK is accepted, nothing runs yet.
        DriverQueue q = driverInit(true);
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();
        assertThat(dataPath.kicks).isEmpty();

        server = VhostUserBlkServer.start(sock, disk, 2, false);
        await(() -> { synchronized (dataPath) { return dataPath.calls.containsKey(GSI_BASE + 1); } },
                "data path set up on reconnect");
        byte[] s = readSector(q, 7, dataPath.kicks.get(pci.notifyAddress(0)), dataPath.calls.get(GSI_BASE + 1));
        assertThat(s[2]).isEqualTo((byte) 15);
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();
    }

    @Test
    void requestsPublishedBeforeTheBackEndReturnsAreServed() throws Exception {
        build(VhostUserDeviceSpec.parseDisk("socket=" + sock));
        enableMsix();
        server.close();
        await(() -> !proxy.connected(), "disconnect noticed");
        DriverQueue q = driverInit(true);
        long hdr = 0x20000;
        mem.memory().writeU32(hdr, 0); // VIRTIO_BLK_T_IN, sector 7
        mem.memory().writeU32(hdr + 4, 0);
        mem.memory().writeU64(hdr + 8, 7);
        mem.memory().write(0x22000, new byte[] {(byte) 0xff});
        q.add(new long[] {hdr, 0x21000, 0x22000}, new int[] {16, 512, 1}, new boolean[] {false, true, true}, 3);
        q.publish();
        common((int) VirtioPciDevice.NOTIFY, 2, 0); // the notify reaches the proxy: nothing to kick yet

        server = VhostUserBlkServer.start(sock, disk, 2, false);
        await(() -> { synchronized (dataPath) { return dataPath.calls.containsKey(GSI_BASE + 1); } },
                "data path set up on reconnect");
        EventFd ev = new EventFd();
        assertThat(ev.await(dataPath.calls.get(GSI_BASE + 1), -1, 60_000)).as("completion").isZero();
        assertThat(mem.memory().read(0x22000, 1)[0]).isZero();
        assertThat(mem.memory().read(0x21000, 1)[0]).isEqualTo((byte) 1);
    }

    @Test
    void anAbsentBackEndIsAUserError() {
        assertThatThrownBy(() -> VhostUserProxy.connect(VhostUserDeviceSpec.parseDisk("socket=" + tmp.resolve("none.sock")),
                mem.memory(), dataPath)).isInstanceOf(UserError.class).hasMessageContaining("cannot connect");
    }
}
