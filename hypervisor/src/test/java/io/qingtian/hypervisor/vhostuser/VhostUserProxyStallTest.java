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
import io.qingtian.virtio.queue.DriverQueue;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A back-end that stays connected but stops answering: the proxy waits one bound, then
 * handles it exactly like a hang-up (DEVICE_NEEDS_RESET, data path down, reconnect), and the
 * device works again once the back-end answers. The back-end is the card's real one behind
 * a relay that can stall ({@link StallingRelay}); the guest is a driver-side queue, as in
 * {@link VhostUserProxyTest}.
 */
class VhostUserProxyStallTest {
    static final Duration BOUND = Duration.ofMillis(300);
    static final int GSI_BASE = 40;

    @TempDir
    Path tmp;

    VhostUserProxyTest.MemBackend disk;
    VhostUserBlkServer server;
    StallingRelay relay;
    Path sock;
    SharedMemory mem;
    VhostUserProxyTest.RecordingDataPath dataPath;
    VhostUserProxy proxy;
    VirtioPciDevice pci;

    @BeforeEach
    void setUp() {
        disk = new VhostUserProxyTest.MemBackend();
        disk.data[512 * 7] = 42;
        Path real = tmp.resolve("real.sock");
        server = VhostUserBlkServer.start(real, disk, 1, false);
        sock = tmp.resolve("relay.sock");
        relay = new StallingRelay(sock, real);
        mem = new SharedMemory(new long[] {0}, new long[] {4 << 20});
        dataPath = new VhostUserProxyTest.RecordingDataPath();
    }

    @AfterEach
    void tearDown() {
        if (proxy != null) {
            proxy.close();
        }
        relay.close();
        server.close();
        mem.close();
    }

    private void build() {
        proxy = VhostUserProxy.connect(VhostUserDeviceSpec.parseDisk("socket=" + sock), mem.memory(), dataPath, BOUND);
        pci = new VirtioPciDevice(proxy, (v, m) -> { }, level -> { });
        pci.assignBar(0, 0xc000_0000L);
        pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        proxy.attach(pci, v -> GSI_BASE + v);
        TransportDriver.enableMsix(pci);
    }

    private void common(int off, int size, long v) {
        pci.barWrite(pci.bar0(), off, size, v);
    }

    private long common(int off, int size) {
        return pci.barRead(pci.bar0(), off, size);
    }

    /** Virtio 1.2 §3.1.1 with queue 0 on vector 1; returns when DRIVER_OK was written (activation included). */
    private DriverQueue driverInit() throws Exception {
        return TransportDriver.init(pci, mem.memory(), proxy.deviceFeatures(), true);
    }

    private static void await(BooleanSupplier cond, String what) throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(60)); // the condition ends the wait
        while (!cond.getAsBoolean()) {
            assertThat(Instant.now()).as(what).isBefore(end);
            Thread.sleep(20);
        }
    }

    @Test
    void activationAgainstAStalledBackEndFailsLikeADisconnectAndRecovers() throws Exception {
        build();
        assertThat(common((int) VirtioPciDevice.DEVICE_CONFIG, 8)).as("capacity while it answers").isEqualTo(2048L);
        relay.stall = true;

        long t0 = System.nanoTime();
        driverInit(); // DRIVER_OK: SET_FEATURES waits for its REPLY_ACK, which never comes
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms).as("the activating thread is held one bound, not forever").isBetween(250L, 10_000L);
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).as("DEVICE_NEEDS_RESET").isNotZero();
        assertThat(proxy.disconnects()).as("handled as a disconnect").isEqualTo(1);
        assertThat(dataPath.kicks).isEmpty();
        assertThat(dataPath.calls).isEmpty();
        // The config stays what the back-end said last, and reading it does not wait.
        long t1 = System.nanoTime();
        assertThat(common((int) VirtioPciDevice.DEVICE_CONFIG, 8)).isEqualTo(2048L);
        assertThat((System.nanoTime() - t1) / 1_000_000).isLessThan(250L);

        relay.stall = false; // the back-end answers again: the reconnect attempts succeed
        await(proxy::connected, "reconnected");
        DriverQueue q = driverInit(); // the driver's reset and re-initialisation
        assertThat(pci.status() & VirtioPciDevice.STATUS_NEEDS_RESET).isZero();
        int kick = dataPath.kicks.get(pci.notifyAddress(0));
        int call = dataPath.calls.get(GSI_BASE + 1);
        mem.memory().writeU32(0x20000, 0); // VIRTIO_BLK_T_IN, sector 7
        mem.memory().writeU32(0x20004, 0);
        mem.memory().writeU64(0x20008, 7);
        q.add(new long[] {0x20000, 0x21000, 0x22000}, new int[] {16, 512, 1}, new boolean[] {false, true, true}, 3);
        q.publish();
        EventFd ev = new EventFd();
        ev.signal(kick);
        assertThat(ev.await(call, -1, 60_000)).as("completion after recovery").isZero();
        assertThat(mem.memory().read(0x21000, 1)[0]).isEqualTo((byte) 42);
    }

    @Test
    void aBackEndStalledAfterTheHandshakeHoldsAConfigReadOneBound() throws Exception {
        build();
        relay.stall = true;
        long t0 = System.nanoTime();
        common((int) VirtioPciDevice.DEVICE_CONFIG, 8); // GET_CONFIG, unanswered
        assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(250L, 10_000L);
        await(() -> proxy.disconnects() == 1, "dropped like a disconnect");
    }

    @Test
    void closeCompletesWhileTheBackEndIsStalled() throws Exception {
        build();
        relay.stall = true;
        driverInit();
        await(() -> relay.connections.get() >= 2, "a reconnect attempt (which stalls too)");
        long t0 = System.nanoTime();
        proxy.close();
        proxy = null;
        assertThat((System.nanoTime() - t0) / 1_000_000).as("close is not held by a stalled reconnect").isLessThan(2_000L);
    }

    @Test
    void aBackEndThatStallsInTheHandshakeIsAOneLineUserError() {
        relay.stall = true;
        long t0 = System.nanoTime();
        assertThatThrownBy(this::build).isInstanceOf(UserError.class)
                .hasMessage("virtio-blk on " + sock + ": back-end handshake failed: vhost-user back-end " + sock
                        + " did not answer GET_FEATURES within 300 ms");
        assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(10_000L);
    }
}
