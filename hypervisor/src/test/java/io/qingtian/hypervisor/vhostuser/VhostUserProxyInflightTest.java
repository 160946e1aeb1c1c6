package io.qingtian.hypervisor.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.hypervisor.vhostuser.VhostUserProxyTest.MemBackend;
import io.qingtian.hypervisor.vhostuser.VhostUserProxyTest.RecordingDataPath;
import io.qingtian.sys.EventFd;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.vhostuser.frontend.SharedMemory;
import io.qingtian.virtio.blk.BlockBackend;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card dies with a write in flight and a new one takes the socket: with vhost-user
 * inflight tracking the proxy resumes the rings on the new back-end (features, memory table,
 * the same inflight region, rings at the guest's used index, fresh eventfds) without
 * DEVICE_NEEDS_RESET, and the new back-end executes the write the dead one held. Without
 * tracking the same crash ends in DEVICE_NEEDS_RESET (today's behaviour).
 *
 * <p>The dead card is a server whose write never returns, closed with a short bound: its
 * connection is cut while the request is in its hands, as when the process is killed.
 */
@Timeout(120)
class VhostUserProxyInflightTest {
    static final int GSI_BASE = 40;

    @TempDir
    Path tmp;

    Path sock;
    MemBackend disk;
    SharedMemory mem;
    RecordingDataPath dataPath;
    VhostUserProxy proxy;
    VirtioPciDevice pci;
    final List<Integer> msi = new ArrayList<>();
    final CountDownLatch writeEntered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    VhostUserBlkServer dead;
    VhostUserBlkServer second;

    /** {@link MemBackend} whose writes never come back (until the test ends). */
    final class StuckWrites implements BlockBackend {
        @Override public long sizeBytes() { return disk.sizeBytes(); }
        @Override public boolean readOnly() { return false; }
        @Override public void read(long offset, MemorySegment dst) { disk.read(offset, dst); }
        @Override public void write(long offset, MemorySegment src) {
            writeEntered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            // a dead card writes nothing
        }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) { }
        @Override public void writeZeroes(long offset, long length, boolean unmap) { }
        @Override public String serial() { return "stuck"; }
        @Override public void close() { }
    }

    @BeforeEach
    void setUp() {
        sock = tmp.resolve("blk.sock");
        disk = new MemBackend();
        mem = new SharedMemory(new long[] {0}, new long[] {4 << 20});
        dataPath = new RecordingDataPath();
    }

    @AfterEach
    void tearDown() {
        if (proxy != null) {
            proxy.close();
        }
        release.countDown();
        if (dead != null) {
            dead.close();
        }
        if (second != null) {
            second.close();
        }
        mem.close();
    }

    private void build() {
        proxy = VhostUserProxy.connect(VhostUserDeviceSpec.parseDisk("socket=" + sock + ",queues=1"), mem.memory(), dataPath);
        pci = new VirtioPciDevice(proxy, new MsixTable.Listener() {
            @Override public void deliver(int vector, io.qingtian.hypervisor.pci.MsiMessage m) { synchronized (msi) { msi.add(vector); } }
        }, level -> { });
        pci.assignBar(0, 0xc000_0000L);
        pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        proxy.attach(pci, v -> GSI_BASE + v);
        TransportDriver.enableMsix(pci);
    }

    private void common(int off, int size, long v) {
        pci.barWrite(pci.bar0(), off, size, v);
    }

    /** The driver's init sequence (virtio 1.2 §3.1.1), queue 0 of 64 entries on vector 1. */
    private DriverQueue driverInit() throws Exception {
        return TransportDriver.init(pci, mem.memory(), proxy.deviceFeatures(), true);
    }

    /** Publishes a one-sector request (type 1 = write, 0 = read) at {@code base} and kicks. */
    private void submit(DriverQueue q, int type, long sector, long base) throws Exception {
        mem.memory().writeU32(base, type);
        mem.memory().writeU32(base + 4, 0);
        mem.memory().writeU64(base + 8, sector);
        mem.memory().write(base + 0x1000, new byte[] {(byte) 0xff});
        q.add(new long[] {base, base + 0x200, base + 0x1000}, new int[] {16, 512, 1},
                new boolean[] {false, type == 0, true}, 3);
        q.publish();
        new EventFd().signal(dataPath.kicks.get(pci.notifyAddress(0))); // the guest's notify, as KVM's ioeventfd
    }

    private int callFd() {
        synchronized (dataPath) {
            Integer fd = dataPath.calls.get(GSI_BASE + 1);
            return fd == null ? -1 : fd;
        }
    }

    private static void await(BooleanSupplier cond, String what) throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(60));
        while (!cond.getAsBoolean()) {
            assertThat(Instant.now()).as(what).isBefore(end);
            Thread.sleep(20);
        }
    }

    /** The dead card: started, given the write, and cut off with the write in its hands. */
    private DriverQueue writeThenCardDies(boolean inflight, byte[] data) throws Exception {
        dead = VhostUserBlkServer.start(sock, new StuckWrites(), 1, false, inflight);
        build();
        DriverQueue q = driverInit();
        assertThat(proxy.inflightTracking()).isEqualTo(inflight);
        mem.memory().write(0x20200, data);
        submit(q, 1, 9, 0x20000);
        assertThat(writeEntered.await(60, java.util.concurrent.TimeUnit.SECONDS)).as("the write reached the card").isTrue();
        int oldCall = callFd();
        assertThat(dead.close(Duration.ofMillis(200))).as("the card dies with the write in flight").isFalse();
        await(() -> callFd() != oldCall || !proxy.connected(), "the proxy noticed");
        await(() -> !proxy.connected() || proxy.disconnects() > 0, "disconnect seen");
        return q;
    }

    @Test
    void writeInFlightWhenTheCardDiesCompletesOnTheNextOneWithoutReset() throws Exception {
        byte[] data = new byte[512];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 13 + 5);
        }
        DriverQueue q = writeThenCardDies(true, data);
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();

        second = VhostUserBlkServer.start(sock, disk, 1, false, true);
        await(() -> proxy.resumes() == 1, "rings resumed on the new card");
        int call = callFd();
        assertThat(call).isNotNegative();
        EventFd ev = new EventFd();
        int[] ids = new int[1];
        int[] lens = new int[1];
        long end = System.nanoTime() + 60_000_000_000L;
        while (q.poll(ids, lens) == 0) {
            assertThat(System.nanoTime()).as("the write completes").isLessThan(end);
            ev.await(call, -1, 100);
        }
        assertThat(mem.memory().read(0x21000, 1)[0]).as("status OK").isZero();
        byte[] written = new byte[512];
        System.arraycopy(disk.data, 9 * 512, written, 0, 512);
        assertThat(written).as("the new card executed the write").isEqualTo(data);
        assertThat(second.inflightStats().regionsSet()).isEqualTo(1);
        assertThat(second.inflightStats().regionsCreated()).as("the region outlives the card").isZero();
        assertThat(second.inflightStats().resubmitted()).isEqualTo(1);

        // The ring goes on where it was: a read of the same sector returns the data.
        submit(q, 0, 9, 0x30000);
        while (q.poll(ids, lens) == 0) {
            assertThat(System.nanoTime()).as("the read completes").isLessThan(end);
            ev.await(call, -1, 100);
        }
        assertThat(mem.memory().read(0x30200, 512)).isEqualTo(data);
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).as("the guest never saw a reset").isZero();
        synchronized (msi) {
            assertThat(msi).as("no config interrupt").doesNotContain(0);
        }
    }

    @Test
    void withoutInflightTrackingTheSameCrashNeedsAReset() throws Exception {
        writeThenCardDies(false, new byte[512]);
        await(() -> (pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        second = VhostUserBlkServer.start(sock, disk, 1, false, false);
        await(proxy::connected, "reconnected");
        assertThat(proxy.resumes()).isZero();
        assertThat(second.inflightStats().resubmitted()).isZero();
    }
}
