package io.qingtian.hypervisor.vhostuser;

import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_CONFIG;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_INFLIGHT_SHMFD;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_MQ;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_REPLY_ACK;
import static io.qingtian.vhostuser.protocol.VhostUser.VHOST_USER_F_PROTOCOL_FEATURES;
import static io.qingtian.vhostuser.protocol.VhostUser.bit;

import io.qingtian.hypervisor.pci.PciInterrupts;
import io.qingtian.hypervisor.virtio.QueueConfig;
import io.qingtian.hypervisor.virtio.SnapshottableVirtioDevice;
import io.qingtian.hypervisor.virtio.VirtioDevice;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.Poll;
import io.qingtian.sys.UserError;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.memory.GuestRegion;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.vhostuser.protocol.MemoryRegion;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;
import java.util.logging.Logger;

/**
 * A virtio device whose back-end lives in the card: this process is only the vhost-user
 * front-end that sets up the data path (vhost-user.rst, "Front-end" side), then steps aside.
 *
 * <p>Connect: SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES (MQ, REPLY_ACK, CONFIG of
 * what the back-end offers), GET_QUEUE_NUM. Activate (the driver set DRIVER_OK): SET_FEATURES,
 * SET_MEM_TABLE with the guest RAM memfd (SCM_RIGHTS), then per enabled queue
 * SET_VRING_NUM/ADDR/BASE/CALL/KICK (+ENABLE): the kick eventfd becomes a KVM ioeventfd on
 * the queue's notify address, the call eventfd a KVM irqfd on the queue's MSI-X vector GSI.
 * When the driver did not enable MSI-X (INTx) or gave the queue no vector, a virtual thread
 * relays the call eventfd to the transport, which raises INTx. Reset: GET_VRING_BASE on each
 * ring (stops it), then the eventfds are unregistered and closed.
 *
 * <p>Back-end disconnect: a watcher notices the socket hang up, tears the data path down,
 * sets DEVICE_NEEDS_RESET (with a config interrupt), answers config reads from the last
 * values, and retries the socket until the back-end is back; the driver's next reset and
 * DRIVER_OK then run on the new connection (a DRIVER_OK that comes before the back-end is
 * back is started when it returns). Rings that were running are not resumed on the new
 * connection: which requests the old back-end completed is not known without inflight
 * tracking (vhost-user.rst, "Inflight I/O tracking"), so the driver starts over (Linux: PCI
 * remove + rescan). The VM never stops for it.
 *
 * <p>Unless the back-end tracks in-flight requests (PROTOCOL_F_INFLIGHT_SHMFD, vhost-user.rst
 * "Inflight I/O tracking", split rings): then at activation the proxy asks it for a region
 * (GET_INFLIGHT_FD, once per driver activation, kept across reconnects until the driver
 * resets the device) and hands it over (SET_INFLIGHT_FD) before the rings start, on every
 * connection. When such a back-end goes away with rings running, nothing is signalled to
 * the guest: the data path is torn down, and on reconnect the proxy sends features, memory
 * table, the region, and every ring again (base = the used index in guest memory, which the
 * back-end corrects from the region; fresh kick and call eventfds, kicked once). The new
 * back-end resubmits what was in flight: the guest sees a pause. A back-end that comes back
 * without the feature gets DEVICE_NEEDS_RESET as before. Back-ends that do not offer it (the
 * network ports) keep the reset: restarting their rings at the guest's used index would
 * execute again, or complete twice, chains completed out of order (a "not a head" error in
 * the guest's driver, which then stops the ring for good).
 *
 * <p>A back-end that stays connected but stops answering is the same case: every reply is
 * awaited at most {@link #REPLY_TIMEOUT} (the front-end's bound); after a timeout the
 * front-end has shut the connection down, and the proxy drops it exactly as on a hang-up
 * (data path torn down, DEVICE_NEEDS_RESET, reconnect attempts). A vCPU that activated the
 * device or read its config is thus held at most one bound, never forever. During the build
 * (the first handshake) a timeout is a {@link UserError} like an absent socket. Reconnect
 * handshakes run outside this object's lock: a back-end that accepts and then stalls must
 * not hold the vCPUs that touch the device meanwhile.
 */
public final class VhostUserProxy implements VirtioDevice, SnapshottableVirtioDevice, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VhostUserProxy.class.getName());

    static final long VIRTIO_F_INDIRECT_DESC = 1L << 28;
    static final long VIRTIO_F_EVENT_IDX = 1L << 29;
    static final int VIRTIO_BLK_F_RO = 5;
    static final int VIRTIO_BLK_F_MQ = 12;
    static final int VIRTIO_NET_F_MAC = 5;
    static final int VIRTIO_NET_F_STATUS = 16;
    static final int VIRTIO_NET_F_CTRL_VQ = 17;
    static final int VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
    static final int VIRTIO_NET_F_MQ = 22;
    static final int VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
    static final int VHOST_F_LOG_ALL = 26;
    /** Device-specific bits 0-23 pass through, minus the ones that need a control queue or logging. */
    static final long NET_UNSUPPORTED = bit(VIRTIO_NET_F_CTRL_VQ) | bit(VIRTIO_NET_F_GUEST_ANNOUNCE)
            | bit(VIRTIO_NET_F_MQ) | bit(VIRTIO_NET_F_CTRL_MAC_ADDR) | 0x3c0000L /* 18-21: ctrl rx/vlan/announce */;
    /** Transport bits we support: indirect descriptors, event index, version 1 (split rings only). */
    static final long TRANSPORT_SUPPORTED = VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX | VirtioPciDevice.VIRTIO_F_VERSION_1;
    /** Whether the proxy uses inflight tracking when the back-end offers it ({@code -Dqt.vhost.inflight=off}: never). */
    static final boolean INFLIGHT = !"off".equals(System.getProperty("qt.vhost.inflight", "on"));
    static final long WANTED_PROTOCOL = bit(PROTOCOL_F_MQ) | bit(PROTOCOL_F_REPLY_ACK) | bit(PROTOCOL_F_CONFIG)
            | (INFLIGHT ? bit(PROTOCOL_F_INFLIGHT_SHMFD) : 0);
    static final int RECONNECT_MILLIS = 200;
    static final int WATCH_MILLIS = 500;
    public static final int QUEUE_MAX_SIZE = 256;
    /**
     * How long each reply from the back-end is awaited ({@code -Dqt.vhostUserReplyMillis=N};
     * default {@link VhostUserFrontend#DEFAULT_REPLY_TIMEOUT}, generous for JVM back-ends
     * under TCG in the nested lab).
     */
    public static final java.time.Duration REPLY_TIMEOUT = java.time.Duration.ofMillis(
            Long.getLong("qt.vhostUserReplyMillis", VhostUserFrontend.DEFAULT_REPLY_TIMEOUT.toMillis()));

    private final VhostUserDeviceSpec spec;
    private final GuestMemory memory;
    private final DataPath dataPath;
    private final int queueCount;
    private final long guestFeatures;
    private final java.time.Duration replyTimeout;
    private VirtioPciDevice transport;
    private IntUnaryOperator vectorGsi;

    // Guarded by this.
    private VhostUserFrontend frontend;
    private long backendFeatures;
    private long protocolFeatures;
    private List<ActiveQueue> active = List.of();
    private VirtioInterrupt interrupt;
    private boolean closed;
    private long generation;
    private Thread watcher;
    /** A DRIVER_OK that came while the back-end was away; started on reconnect. */
    private Deferred deferred;
    /** The device configuration as the back-end last reported it (bytes 0..configKnown). */
    private final byte[] configCache = new byte[256];
    private int configKnown;
    /** The back-end's inflight region for the current activation (we own its fd), or null. */
    private io.qingtian.vhostuser.protocol.Request.SetInflightFd inflight;
    /** The activation the rings run under (to restart them on a new connection). */
    private Deferred running;
    /** Rings to resume with inflight tracking when the back-end returns. */
    private Deferred resume;
    private long resumes;

    private record ActiveQueue(int index, int kickFd, int callFd, long notifyAddress, int gsi, Thread relay) {}

    private VhostUserProxy(VhostUserDeviceSpec spec, GuestMemory memory, DataPath dataPath, java.time.Duration replyTimeout)
            throws VhostUserProtocolException {
        this.spec = spec;
        this.memory = memory;
        this.dataPath = dataPath;
        this.replyTimeout = replyTimeout;
        adopt(handshake(VhostUserFrontend.connect(spec.socket(), replyTimeout)));
        int backendQueues;
        try {
            backendQueues = spec.kind() == VhostUserDeviceSpec.Kind.NET ? 2 : queueNumOrOne();
        } catch (VhostUserProtocolException | RuntimeException e) {
            frontend.close();
            throw e;
        }
        int n = spec.kind() == VhostUserDeviceSpec.Kind.BLOCK && spec.queues() > 0 ? Math.min(spec.queues(), backendQueues) : backendQueues;
        if (spec.kind() == VhostUserDeviceSpec.Kind.BLOCK && (backendFeatures & bit(VIRTIO_BLK_F_MQ)) == 0) {
            n = 1;
        }
        this.queueCount = Math.max(1, n);
        this.guestFeatures = computeGuestFeatures();
        if ((guestFeatures & VirtioPciDevice.VIRTIO_F_VERSION_1) == 0) {
            frontend.close();
            throw new UserError(spec.describe() + ": the back-end does not offer VIRTIO_F_VERSION_1 (legacy-only back-ends are not supported)");
        }
    }

    /**
     * Connects to the back-end now (the guest's device shows its real features and size from
     * the start). A socket that is absent or refuses is a {@link UserError}.
     */
    public static VhostUserProxy connect(VhostUserDeviceSpec spec, GuestMemory memory, DataPath dataPath) {
        return connect(spec, memory, dataPath, REPLY_TIMEOUT);
    }

    /** {@link #connect(VhostUserDeviceSpec, GuestMemory, DataPath)} with each reply awaited at most {@code replyTimeout}. */
    public static VhostUserProxy connect(VhostUserDeviceSpec spec, GuestMemory memory, DataPath dataPath,
                                         java.time.Duration replyTimeout) {
        try {
            return new VhostUserProxy(spec, memory, dataPath, replyTimeout);
        } catch (LinuxException e) {
            throw new UserError(spec.describe() + ": cannot connect to the back-end (" + e.getMessage() + ")");
        } catch (VhostUserProtocolException e) {
            throw new UserError(spec.describe() + ": back-end handshake failed: " + e.getMessage());
        }
    }

    /**
     * Wires the transport (after it was built around this device) and starts the disconnect
     * watcher. {@code vectorGsi} maps an MSI-X vector to its GSI ({@link PciInterrupts.Vectors#gsi}).
     */
    public synchronized void attach(VirtioPciDevice transport, IntUnaryOperator vectorGsi) {
        this.transport = transport;
        this.vectorGsi = vectorGsi;
        transport.onBarChange(this::barChanged);
        startWatcher();
    }

    private int queueNumOrOne() throws VhostUserProtocolException {
        if ((protocolFeatures & bit(PROTOCOL_F_MQ)) == 0) {
            return 1;
        }
        int n = frontend.getQueueNum();
        return n < 1 ? 1 : n;
    }

    /** What a handshake established: the connection and the back-end's features. */
    private record Negotiated(VhostUserFrontend frontend, long features, long protocolFeatures) {}

    /**
     * SET_OWNER and the feature negotiation on a fresh connection. Touches no field of this
     * object, so a reconnect runs it without the lock; closes {@code fe} when it fails.
     */
    private static Negotiated handshake(VhostUserFrontend fe) throws VhostUserProtocolException {
        try {
            fe.setOwner();
            long features = fe.getFeatures();
            long pf = 0;
            if ((features & bit(VHOST_USER_F_PROTOCOL_FEATURES)) != 0) {
                pf = fe.getProtocolFeatures() & WANTED_PROTOCOL;
                fe.setProtocolFeatures(pf);
            }
            return new Negotiated(fe, features, pf);
        } catch (VhostUserProtocolException | RuntimeException e) {
            fe.close();
            throw e;
        }
    }

    private void adopt(Negotiated n) {
        this.frontend = n.frontend();
        this.backendFeatures = n.features();
        this.protocolFeatures = n.protocolFeatures();
    }

    private long computeGuestFeatures() {
        long deviceBits = backendFeatures & 0xff_ffffL;
        if (spec.kind() == VhostUserDeviceSpec.Kind.BLOCK) {
            if (spec.readOnly()) {
                deviceBits |= bit(VIRTIO_BLK_F_RO);
            }
            if (queueCount == 1) {
                deviceBits &= ~bit(VIRTIO_BLK_F_MQ);
            }
        } else {
            deviceBits &= ~NET_UNSUPPORTED;
            if (spec.mac() != null) {
                deviceBits |= bit(VIRTIO_NET_F_MAC) | bit(VIRTIO_NET_F_STATUS);
            }
        }
        deviceBits &= ~bit(VHOST_F_LOG_ALL);
        return deviceBits | (backendFeatures & TRANSPORT_SUPPORTED);
    }

    public VhostUserDeviceSpec spec() {
        return spec;
    }

    public synchronized boolean connected() {
        return frontend != null;
    }

    @Override
    public int deviceType() {
        return spec.kind().deviceType;
    }

    @Override
    public long deviceFeatures() {
        return guestFeatures;
    }

    @Override
    public int queueCount() {
        return queueCount;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_MAX_SIZE;
    }

    /**
     * Device configuration: relayed to the back-end with GET_CONFIG; a NIC given a MAC on the
     * command line answers locally (mac, status = LINK_UP, one queue pair; virtio 1.2 §5.1.4).
     */
    @Override
    public long readConfig(long offset, int size) {
        if (offset < 0 || size < 1 || size > 8 || offset + size > 256) {
            return 0;
        }
        byte[] mac = spec.mac();
        if (mac != null) {
            byte[] cfg = new byte[12];
            System.arraycopy(mac, 0, cfg, 0, 6);
            cfg[6] = 1; // VIRTIO_NET_S_LINK_UP
            cfg[8] = 1; // max_virtqueue_pairs
            return littleEndian(cfg, (int) offset, size);
        }
        synchronized (this) {
            if (frontend == null) {
                // The back-end is away: answer what it said last. A driver that re-reads its
                // config on the DEVICE_NEEDS_RESET interrupt (Linux's virtio-blk re-reads the
                // capacity) must not see the disk shrink to nothing meanwhile.
                return offset + size <= configKnown ? littleEndian(configCache, (int) offset, size) : 0;
            }
            if ((protocolFeatures & bit(PROTOCOL_F_CONFIG)) == 0) {
                return 0;
            }
            try {
                // Always from offset 0: libvhost-user back-ends (qemu-storage-daemon) ignore the
                // offset and copy their config from its start, as QEMU only ever asks for all of it.
                byte[] b = frontend.getConfig(0, (int) offset + size);
                int n = Math.min(b.length, configCache.length);
                System.arraycopy(b, 0, configCache, 0, n);
                configKnown = Math.max(configKnown, n);
                return littleEndian(b, (int) offset, size);
            } catch (VhostUserProtocolException | RuntimeException e) {
                LOG.warning(spec.describe() + ": GET_CONFIG failed: " + e.getMessage());
                signalLater(dropIfBroken());
                return offset + size <= configKnown ? littleEndian(configCache, (int) offset, size) : 0;
            }
        }
    }

    @Override
    public void writeConfig(long offset, int size, long value) {
        // virtio-blk's writeback toggle and net's config are read-only for us: ignore (§4.1.4.6 allows it).
    }

    /**
     * DRIVER_OK while the back-end is away (a guest re-probing the device before the card is
     * back) is not a failure: the start is deferred until the back-end returns, and the
     * driver's requests wait in its rings meanwhile (nothing was in flight on the old
     * connection: the rings are new).
     */
    @Override
    public synchronized boolean activate(long features, List<QueueConfig> queues, VirtioInterrupt irq) {
        this.interrupt = irq;
        if (frontend == null) {
            LOG.warning(spec.describe() + ": the back-end is not connected; the device starts when it returns");
            deferred = new Deferred(features, List.copyOf(queues), irq);
            return true;
        }
        return start(features, queues, irq);
    }

    private record Deferred(long features, List<QueueConfig> queues, VirtioInterrupt irq) {}

    private boolean start(long features, List<QueueConfig> queues, VirtioInterrupt irq) {
        return startRings(features, queues, irq, null, "activation failed");
    }

    /**
     * Features, memory table and every ring to the back-end. {@code bases} null: a fresh start
     * (rings at 0, no kick); else each ring resumes at its saved avail index and is kicked once.
     */
    private boolean startRings(long features, List<QueueConfig> queues, VirtioInterrupt irq, int[] bases, String failure) {
        List<ActiveQueue> started = new ArrayList<>();
        try {
            long toBackend = features & backendFeatures;
            if (protocolFeatures != 0 || (backendFeatures & bit(VHOST_USER_F_PROTOCOL_FEATURES)) != 0) {
                toBackend |= bit(VHOST_USER_F_PROTOCOL_FEATURES);
            }
            frontend.setFeatures(toBackend);
            sendMemTable();
            sendInflight(queues);
            for (QueueConfig q : queues) {
                started.add(bases == null ? startQueue(q, irq, 0, false) : startQueue(q, irq, bases[q.index()], true));
            }
            active = List.copyOf(started);
            running = new Deferred(features, List.copyOf(queues), irq);
            return true;
        } catch (VhostUserProtocolException | GuestMemoryException | RuntimeException e) {
            LOG.warning(spec.describe() + ": " + failure + ": " + e.getMessage());
            for (ActiveQueue a : started) {
                teardown(a);
            }
            active = List.of();
            dropIfBroken(); // our caller's false already makes the transport set DEVICE_NEEDS_RESET
            return false;
        }
    }

    /**
     * GET_INFLIGHT_FD the first time rings start after a driver reset, SET_INFLIGHT_FD on every
     * start (vhost-user.rst: before the rings start). The region has one queue size, so it is
     * used only when every ring has the same (Linux gives all its rings the maximum).
     */
    private void sendInflight(List<QueueConfig> queues) throws VhostUserProtocolException {
        if ((protocolFeatures & bit(PROTOCOL_F_INFLIGHT_SHMFD)) == 0 || queues.isEmpty()) {
            return;
        }
        int size = queues.getFirst().size();
        for (QueueConfig q : queues) {
            if (q.size() != size) {
                LOG.info(spec.describe() + ": rings of different sizes: no inflight tracking");
                freeInflight();
                return;
            }
        }
        if (inflight != null && (inflight.queueSize() != size || inflight.numQueues() != queueCount)) {
            freeInflight();
        }
        if (inflight == null) {
            var r = frontend.getInflightFd(queueCount, size);
            if (r.fd() < 0 || r.mmapSize() == 0) {
                LOG.info(spec.describe() + ": the back-end has no inflight region for " + queueCount + " queues of " + size);
                Libc.closeQuietly(r.fd());
                return;
            }
            inflight = r;
        }
        frontend.setInflightFd(inflight);
    }

    private void freeInflight() {
        if (inflight != null) {
            Libc.closeQuietly(inflight.fd());
            inflight = null;
        }
    }

    /** Whether the rings run with inflight tracking (a back-end restart is then resumed, not reset). */
    public synchronized boolean inflightTracking() {
        return inflight != null && !active.isEmpty();
    }

    /** How many times rings were resumed on a new back-end without a reset (for tests and status). */
    public synchronized long resumes() {
        return resumes;
    }

    private void sendMemTable() throws VhostUserProtocolException {
        List<MemoryRegion> regions = new ArrayList<>();
        List<GuestRegion> guest = memory.regions();
        int[] fds = new int[guest.size()];
        for (int i = 0; i < guest.size(); i++) {
            GuestRegion r = guest.get(i);
            regions.add(new MemoryRegion(r.guestAddress(), r.size(), r.mapping().address(), r.fdOffset()));
            fds[i] = r.fd();
        }
        frontend.setMemTable(regions, fds);
    }

    /**
     * INTx (or no vector): the call eventfd is relayed by a thread to the transport. A platform
     * thread, like the watcher's: it waits in a native poll, which pins a virtual thread's
     * carrier, and a hypervisor confined to one CPU has one carrier — the API server's virtual
     * threads would never run again.
     */
    private Thread startRelay(int queue, int callFd, VirtioInterrupt irq) {
        return Thread.ofPlatform().daemon().name("vhost-user-call-" + queue).start(() -> {
            EventFd ev = new EventFd();
            while (!Thread.currentThread().isInterrupted()) {
                int r = ev.await(callFd, -1, 200);
                if (r == 0) {
                    ev.consume(callFd);
                    irq.queue(queue);
                } else if (r == -2) {
                    return;
                }
            }
        });
    }

    private void teardown(ActiveQueue a) {
        if (a.relay() != null) {
            a.relay().interrupt();
        }
        if (a.notifyAddress() >= 0 && a.kickFd() >= 0) {
            try {
                dataPath.unregisterKick(a.kickFd(), a.notifyAddress());
            } catch (RuntimeException ignored) {
                // not registered (failed half-way)
            }
        }
        if (a.gsi() >= 0 && a.callFd() >= 0) {
            try {
                dataPath.unregisterCall(a.callFd(), a.gsi());
            } catch (RuntimeException ignored) {
                // not registered
            }
        }
        if (a.relay() != null) {
            try {
                a.relay().join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (a.kickFd() >= 0) {
            Libc.closeQuietly(a.kickFd());
        }
        if (a.callFd() >= 0) {
            Libc.closeQuietly(a.callFd());
        }
    }

    @Override
    public synchronized void reset() {
        for (ActiveQueue a : active) {
            if (frontend != null) {
                try {
                    frontend.getVringBase(a.index()); // stops the ring (vhost-user.rst)
                } catch (VhostUserProtocolException | RuntimeException e) {
                    LOG.warning(spec.describe() + ": GET_VRING_BASE(" + a.index() + ") failed: " + e.getMessage());
                }
            }
            teardown(a);
        }
        active = List.of();
        interrupt = null;
        deferred = null;
        running = null;
        resume = null;
        freeInflight(); // a reset driver starts its rings over: what the old region says is void
        dropIfBroken(); // the driver is resetting the device anyway: no interrupt
    }

    @Override
    public void queueNotify(int index) {
        // The ioeventfd catches notifications; one that reaches us came before it was
        // registered or after a BAR move: forward it to the kick eventfd.
        synchronized (this) {
            for (ActiveQueue a : active) {
                if (a.index() == index) {
                    new EventFd().signal(a.kickFd());
                }
            }
        }
    }

    /** The guest moved BAR 0 (or toggled decoding): move the ioeventfds with it. */
    private synchronized void barChanged() {
        List<ActiveQueue> moved = new ArrayList<>();
        for (ActiveQueue a : active) {
            long now = transport.notifyAddress(a.index());
            if (now != a.notifyAddress()) {
                try {
                    dataPath.unregisterKick(a.kickFd(), a.notifyAddress());
                    dataPath.registerKick(a.kickFd(), now);
                } catch (RuntimeException e) {
                    LOG.warning(spec.describe() + ": moving the ioeventfd of queue " + a.index() + " failed: " + e.getMessage());
                }
                moved.add(new ActiveQueue(a.index(), a.kickFd(), a.callFd(), now, a.gsi(), a.relay()));
            } else {
                moved.add(a);
            }
        }
        active = List.copyOf(moved);
    }

    // ---- back-end disconnect and reconnect ----

    private void startWatcher() {
        // platform thread: Poll.waitReadable is a native call that would pin a virtual thread's carrier (see startRelay)
        watcher = Thread.ofPlatform().daemon().name("vhost-user-watch-" + spec.socket().getFileName()).start(this::watch);
    }

    private void watch() {
        while (true) {
            int fd;
            synchronized (this) {
                if (closed) {
                    return;
                }
                fd = frontend == null ? -1 : frontend.socketFd();
            }
            if (fd < 0) {
                if (!sleep(RECONNECT_MILLIS)) {
                    return;
                }
                tryReconnect();
                continue;
            }
            int r;
            try {
                r = Poll.waitReadable(new int[] {fd}, WATCH_MILLIS);
            } catch (LinuxException e) {
                r = 0;
            }
            if (r < 0) {
                continue;
            }
            VirtioInterrupt toSignal = null;
            synchronized (this) {
                // Readable while nobody is waiting for a reply: the back-end hung up (or sent
                // something it must not send unasked): either way the connection is over.
                if (closed || frontend == null || frontend.socketFd() != fd) {
                    continue;
                }
                int again;
                try {
                    again = Poll.waitReadable(new int[] {fd}, 0);
                } catch (LinuxException e) {
                    again = 0;
                }
                if (again >= 0) {
                    toSignal = disconnected();
                }
            }
            // Outside our lock: the transport takes its own, and config writes hold the
            // transport's lock while they call barChanged() (lock order transport -> proxy).
            if (toSignal != null) {
                toSignal.needsReset();
            }
        }
    }

    /** Tears the data path down; returns the interrupt to raise DEVICE_NEEDS_RESET on, if active. */
    private synchronized VirtioInterrupt disconnected() {
        return disconnected("the back-end disconnected");
    }

    private synchronized VirtioInterrupt disconnected(String why) {
        boolean resumable = inflight != null && !active.isEmpty() && running != null;
        LOG.warning(spec.describe() + ": " + why + (resumable
                ? "; its rings resume when it returns (inflight tracking), reconnecting"
                : "; the device needs a reset, reconnecting"));
        for (ActiveQueue a : active) {
            teardown(a);
        }
        active = List.of();
        frontend.close();
        frontend = null;
        generation++;
        if (resumable) {
            resume = running;
            running = null;
            return null;
        }
        return interrupt;
    }

    /** The used index of each ring in guest memory: where a resumed ring's base starts (the back-end corrects it). */
    private int[] usedIndexes(List<QueueConfig> queues) throws GuestMemoryException {
        int[] bases = new int[queueCount];
        for (QueueConfig q : queues) {
            java.lang.foreign.MemorySegment used = memory.slice(q.deviceArea(), 4);
            bases[q.index()] = Short.toUnsignedInt(used.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED
                    .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2));
        }
        return bases;
    }

    /**
     * After a failed request: a connection the front-end marked broken (a reply did not come
     * within the bound, or came garbled) is handled as the back-end hanging up. Returns the
     * interrupt to raise DEVICE_NEEDS_RESET on (outside our lock), or null.
     */
    private synchronized VirtioInterrupt dropIfBroken() {
        if (frontend == null || frontend.broken() == null) {
            return null;
        }
        return disconnected("the back-end stopped answering (" + frontend.broken() + ")");
    }

    /**
     * Raises DEVICE_NEEDS_RESET from another thread: callers hold our lock, and the
     * transport's lock comes first (lock order transport -> proxy).
     */
    private static void signalLater(VirtioInterrupt irq) {
        if (irq != null) {
            Thread.ofVirtual().name("vhost-user-needs-reset").start(irq::needsReset);
        }
    }

    private void tryReconnect() {
        VhostUserFrontend fe;
        try {
            fe = VhostUserFrontend.connect(spec.socket(), replyTimeout);
        } catch (RuntimeException e) {
            return; // not back yet
        }
        Negotiated n;
        try {
            n = handshake(fe); // without our lock: a stalled back-end holds only this thread, one bound long
        } catch (VhostUserProtocolException | RuntimeException e) {
            LOG.warning(spec.describe() + ": reconnect handshake failed: " + e.getMessage());
            return; // handshake closed fe; the next attempt tries again
        }
        VirtioInterrupt failed = null;
        synchronized (this) {
            if (closed) {
                fe.close();
                return;
            }
            long before = backendFeatures;
            adopt(n);
            if ((backendFeatures & guestFeatures & ~bit(VIRTIO_BLK_F_RO)) != (guestFeatures & before & ~bit(VIRTIO_BLK_F_RO))) {
                LOG.warning(spec.describe() + ": the back-end came back with different features");
            }
            LOG.info(spec.describe() + ": reconnected to the back-end");
            Deferred r = resume;
            resume = null;
            if (r != null) {
                failed = resumeAfterRestart(r);
            }
            Deferred d = deferred;
            deferred = null;
            if (d != null) {
                if (start(d.features(), d.queues(), d.irq())) {
                    // The driver may have notified before there was anything to notify: kick
                    // every ring once (a spurious kick is harmless, a lost one stalls the ring).
                    EventFd ev = new EventFd();
                    for (ActiveQueue a : active) {
                        ev.signal(a.kickFd());
                    }
                    LOG.info(spec.describe() + ": started the device the driver set up while the back-end was away");
                } else {
                    failed = d.irq();
                }
            }
        }
        if (failed != null) {
            failed.needsReset(); // outside our lock, as in watch()
        }
    }

    /**
     * Restarts the rings that ran when the back-end died on the new one, with the inflight
     * region, so it resubmits what was in flight; returns the interrupt to raise
     * DEVICE_NEEDS_RESET on when that is not possible.
     */
    private VirtioInterrupt resumeAfterRestart(Deferred r) {
        if ((protocolFeatures & bit(PROTOCOL_F_INFLIGHT_SHMFD)) == 0) {
            LOG.warning(spec.describe() + ": the back-end came back without inflight tracking; the device needs a reset");
            freeInflight();
            return r.irq();
        }
        int[] bases;
        try {
            bases = usedIndexes(r.queues());
        } catch (GuestMemoryException e) {
            LOG.warning(spec.describe() + ": a ring is outside guest memory: " + e.getMessage());
            return r.irq();
        }
        if (!startRings(r.features(), r.queues(), r.irq(), bases, "resuming the rings on the new back-end failed")) {
            return r.irq();
        }
        resumes++;
        LOG.info(spec.describe() + ": rings resumed on the new back-end (in-flight requests resubmitted by it)");
        return null;
    }

    /** How many times the back-end went away (for tests and status). */
    public synchronized long disconnects() {
        return generation;
    }

    private static boolean sleep(long millis) {
        try {
            Thread.sleep(millis);
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    @Override
    public void close() {
        Thread w;
        synchronized (this) {
            closed = true;
            for (ActiveQueue a : active) {
                teardown(a);
            }
            active = List.of();
            if (frontend != null) {
                frontend.close();
                frontend = null;
            }
            freeInflight();
            w = watcher;
        }
        if (w != null) {
            w.interrupt();
        }
    }

    private static long littleEndian(byte[] b, int offset, int size) {
        long v = 0;
        for (int i = 0; i < size && offset + i < b.length; i++) {
            v |= (b[offset + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    // ---- snapshot (issue 8): ring state over vhost-user (vhost-user.rst, "Starting and stopping rings") ----

    /** How long a snapshot waits for the back-end to complete requests it had taken. */
    static final long DRAIN_MILLIS = 2000;

    // Guarded by this: the queues saveRings stopped and where, for resumeRings.
    private List<QueueConfig> stoppedQueues = List.of();
    private int[] stoppedBases = new int[0];

    /**
     * GET_VRING_BASE on each running ring: the back-end stops it and answers the next avail
     * index it would have consumed. Then waits (bounded) until the used index in guest memory
     * reaches that index, i.e. every request the back-end took is completed and visible in the
     * memory being saved. The eventfds stay registered; {@link #resumeRings} replaces them.
     */
    @Override
    public synchronized int[] saveRings(int queueCount, List<QueueConfig> running) {
        int[] bases = new int[queueCount];
        java.util.Arrays.fill(bases, -1);
        if (frontend == null || active.isEmpty()) {
            // disconnected: the device already has DEVICE_NEEDS_RESET; nothing runs to save
            stoppedQueues = List.of();
            return bases;
        }
        List<QueueConfig> stopped = new ArrayList<>();
        for (QueueConfig q : running) {
            if (!isActive(q.index())) {
                continue;
            }
            int base;
            try {
                base = frontend.getVringBase(q.index()) & 0xffff;
            } catch (VhostUserProtocolException e) {
                signalLater(dropIfBroken());
                throw new io.qingtian.hypervisor.snapshot.SnapshotException(spec.describe()
                        + ": GET_VRING_BASE(" + q.index() + ") failed: " + e.getMessage(), e);
            }
            bases[q.index()] = base;
            stopped.add(q);
            awaitUsed(q, base);
        }
        stoppedQueues = List.copyOf(stopped);
        stoppedBases = bases.clone();
        return bases;
    }

    private boolean isActive(int index) {
        for (ActiveQueue a : active) {
            if (a.index() == index) {
                return true;
            }
        }
        return false;
    }

    /** Waits until used.idx == {@code base} (all taken requests completed); warns after the limit. */
    private void awaitUsed(QueueConfig q, int base) {
        long deadline = System.nanoTime() + DRAIN_MILLIS * 1_000_000L;
        try {
            java.lang.foreign.MemorySegment used = memory.slice(q.deviceArea(), 4);
            while (true) {
                int usedIdx = Short.toUnsignedInt(used.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED
                        .withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2));
                if (usedIdx == base) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    LOG.warning(spec.describe() + ": queue " + q.index() + " still has " + ((base - usedIdx) & 0xffff)
                            + " requests in flight after " + DRAIN_MILLIS + " ms; snapshotting anyway");
                    return;
                }
                Thread.sleep(1);
            }
        } catch (GuestMemoryException e) {
            LOG.warning(spec.describe() + ": queue " + q.index() + "'s used ring is outside guest memory: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Restarts the rings {@link #saveRings} stopped, on fresh eventfds, at the saved positions. */
    @Override
    public synchronized void resumeRings() {
        if (stoppedQueues.isEmpty() || frontend == null || interrupt == null) {
            return;
        }
        List<ActiveQueue> restarted = new ArrayList<>();
        for (ActiveQueue a : active) {
            teardown(a);
        }
        active = List.of();
        try {
            for (QueueConfig q : stoppedQueues) {
                restarted.add(startQueue(q, interrupt, stoppedBases[q.index()], true));
            }
            active = List.copyOf(restarted);
        } catch (VhostUserProtocolException | GuestMemoryException | RuntimeException e) {
            LOG.warning(spec.describe() + ": restarting the rings after the snapshot failed: " + e.getMessage());
            for (ActiveQueue a : restarted) {
                teardown(a);
            }
            VirtioInterrupt irq = interrupt;
            dropIfBroken();
            Thread.ofVirtual().start(irq::needsReset); // outside our lock (lock order transport -> proxy)
        } finally {
            stoppedQueues = List.of();
        }
    }

    /**
     * Activation in a restored VM, on the connection made when it was built: SET_FEATURES,
     * SET_MEM_TABLE with the restored memory's memfd, then per ring NUM, ADDR, BASE (the
     * index GET_VRING_BASE answered at the snapshot), CALL, KICK and ENABLE, with the kick as
     * a KVM ioeventfd and the call as a KVM irqfd exactly as after a driver's DRIVER_OK.
     */
    @Override
    public synchronized boolean activateRestored(long features, List<QueueConfig> queues, VirtioInterrupt irq, int[] bases) {
        this.interrupt = irq;
        if (frontend == null) {
            LOG.warning(spec.describe() + ": the back-end is not connected; the restored device needs a reset");
            return false;
        }
        if ((features & ~guestFeatures) != 0) {
            LOG.warning(spec.describe() + ": the back-end no longer offers features 0x"
                    + Long.toHexString(features & ~guestFeatures) + " the guest's driver negotiated; the restored device needs a reset");
            return false;
        }
        for (QueueConfig q : queues) {
            if (q.index() >= bases.length || bases[q.index()] < 0) {
                LOG.warning(spec.describe() + ": the snapshot has no ring position for queue " + q.index()
                        + "; the restored device needs a reset");
                return false;
            }
        }
        return startRings(features, queues, irq, bases, "restoring the rings failed");
    }

    /**
     * Hands one ring to the back-end: size, addresses, first avail index {@code base} (0 for a
     * fresh start, the saved index when restarting or restoring), call and kick eventfds wired
     * to KVM (irqfd on the vector's GSI, ioeventfd on the notify address) or to an INTx relay.
     * {@code kickOnce}: requests the driver queued while the ring was stopped (or before the
     * snapshot) would wait for a kick that already happened, so the back-end is kicked once.
     */
    private ActiveQueue startQueue(QueueConfig q, VirtioInterrupt irq, int base, boolean kickOnce)
            throws VhostUserProtocolException, GuestMemoryException {
        int i = q.index();
        long desc = memory.slice(q.descTable(), 16L * q.size()).address();
        long avail = memory.slice(q.driverArea(), 6 + 2L * q.size()).address();
        long used = memory.slice(q.deviceArea(), 6 + 8L * q.size()).address();
        int kick = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        int call = -1;
        long notify = -1;
        int gsi = -1;
        Thread relay = null;
        try {
            call = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            frontend.setVringNum(i, q.size());
            frontend.setVringAddr(i, desc, used, avail);
            frontend.setVringBase(i, base);
            frontend.setVringCall(i, call);
            frontend.setVringKick(i, kick);
            if ((backendFeatures & bit(VHOST_USER_F_PROTOCOL_FEATURES)) != 0) {
                frontend.setVringEnable(i, true); // rings start disabled with PROTOCOL_FEATURES
            }
            notify = transport.notifyAddress(i);
            dataPath.registerKick(kick, notify);
            if (transport.msixEnabled() && q.msixVector() != QueueConfig.NO_VECTOR) {
                gsi = vectorGsi.applyAsInt(q.msixVector());
                dataPath.registerCall(call, gsi);
            } else {
                relay = startRelay(i, call, irq);
            }
            if (kickOnce) {
                new EventFd().signal(kick);
            }
            return new ActiveQueue(i, kick, call, notify, gsi, relay);
        } catch (VhostUserProtocolException | RuntimeException e) {
            teardown(new ActiveQueue(i, kick, call, notify, gsi, relay));
            throw e;
        }
    }
}
