package io.qingtian.vhostuser.backend;

import static io.qingtian.vhostuser.protocol.VhostUser.*;

import io.qingtian.sys.Libc;
import io.qingtian.virtio.queue.SplitQueue;
import io.qingtian.vhostuser.protocol.Message;
import io.qingtian.vhostuser.protocol.Request;
import io.qingtian.vhostuser.protocol.Request.*;
import io.qingtian.vhostuser.protocol.RequestCode;
import io.qingtian.vhostuser.protocol.VhostUserCodec;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One front-end connection: the message loop and the device state it builds (features,
 * memory table, vrings). Every connection starts from scratch, so a front-end that
 * reconnects after a crash negotiates again (vhost-user.rst: the back-end keeps nothing
 * across connections except what the front-end tells it again, e.g. SET_VRING_BASE).
 *
 * <p>Protocol violations close the connection with a logged reason; requests that are
 * well formed but cannot be honoured are refused through REPLY_ACK when the front-end
 * asked for a reply, and close the connection otherwise.
 */
final class BackendConnection {
    private static final Logger LOG = Logger.getLogger(BackendConnection.class.getName());

    /** Protocol features this back-end speaks for every device. */
    static final long PROTOCOL_FEATURES = bit(PROTOCOL_F_MQ) | bit(PROTOCOL_F_REPLY_ACK) | bit(PROTOCOL_F_CONFIG);

    private final String name;
    private final VhostUserDevice device;
    private final VhostUserSocket socket;
    private final Vring[] vrings;
    private long ackedFeatures;
    private long ackedProtocolFeatures;
    private MemoryTable memory;
    private InflightRegion inflight;
    private final long protocolFeatures;
    private final BackendEvents events;

    BackendConnection(String name, VhostUserDevice device, VhostUserSocket socket) {
        this(name, device, socket, BackendEvents.NONE);
    }

    BackendConnection(String name, VhostUserDevice device, VhostUserSocket socket, BackendEvents events) {
        this.name = name;
        this.device = device;
        this.socket = socket;
        this.events = events;
        this.protocolFeatures = PROTOCOL_FEATURES | (device.tracksInflight() ? bit(PROTOCOL_F_INFLIGHT_SHMFD) : 0);
        this.vrings = new Vring[device.numQueues()];
        for (int i = 0; i < vrings.length; i++) {
            vrings[i] = new Vring(i);
            vrings[i].events = events;
        }
    }

    private long offeredFeatures() {
        return device.features() | bit(VHOST_USER_F_PROTOCOL_FEATURES);
    }

    private boolean eventIdx() {
        return (ackedFeatures & (1L << 29)) != 0;
    }

    /** Serves messages until the front-end goes away or breaks the protocol; then cleans up. */
    void serve() {
        try {
            while (true) {
                Message m;
                try {
                    m = socket.receive(false);
                } catch (VhostUserProtocolException e) {
                    LOG.warning(name + ": closing connection: " + e.getMessage());
                    return;
                }
                if (m == null) {
                    LOG.info(name + ": front-end disconnected");
                    return;
                }
                Request r;
                try {
                    r = VhostUserCodec.decode(m);
                } catch (VhostUserProtocolException e) {
                    for (int fd : m.fds()) {
                        Libc.closeQuietly(fd);
                    }
                    LOG.warning(name + ": closing connection: " + e.getMessage());
                    return;
                }
                String failure;
                try {
                    failure = handle(r, m.needsReply());
                } catch (VhostUserProtocolException e) {
                    LOG.warning(name + ": closing connection: " + e.getMessage());
                    return;
                }
                if (!repliesItself(r.code()) && m.needsReply() && (ackedProtocolFeatures & bit(PROTOCOL_F_REPLY_ACK)) != 0) {
                    if (failure != null) {
                        LOG.warning(name + ": refused " + r.code() + ": " + failure);
                    }
                    socket.send(VhostUserCodec.u64Reply(r.code(), failure == null ? 0 : 1));
                } else if (failure != null) {
                    LOG.warning(name + ": closing connection: " + r.code() + " failed: " + failure);
                    return;
                }
            }
        } catch (RuntimeException e) {
            // A send to a vanished front-end (EPIPE) and the like.
            LOG.log(Level.WARNING, name + ": closing connection: " + e.getMessage(), e);
        } finally {
            cleanup();
        }
    }

    private static boolean repliesItself(RequestCode c) {
        return switch (c) {
            case GET_FEATURES, GET_PROTOCOL_FEATURES, GET_VRING_BASE, GET_QUEUE_NUM, GET_CONFIG, GET_MAX_MEM_SLOTS,
                 GET_INFLIGHT_FD -> true;
            default -> false;
        };
    }

    /** Stops every worker (completing requests in hand), closes fds, unmaps memory. */
    void cleanup() {
        for (Vring v : vrings) {
            v.reset();
        }
        device.featuresAcked(0);
        if (memory != null) {
            memory.close();
            memory = null;
        }
        setInflight(null);
        socket.close();
    }

    private boolean inflightAcked() {
        return (ackedProtocolFeatures & bit(PROTOCOL_F_INFLIGHT_SHMFD)) != 0;
    }

    /**
     * GET_INFLIGHT_FD (vhost-user.rst "Inflight I/O tracking"): a new zeroed region for the
     * queues the front-end names, which it keeps for the device's lifetime and hands back with
     * SET_INFLIGHT_FD on every connection. A geometry we cannot serve gets size 0 and no fd
     * (the front-end then runs without tracking).
     */
    private void getInflightFd(GetInflightFd x) throws VhostUserProtocolException {
        if (!inflightAcked()) {
            throw new VhostUserProtocolException("GET_INFLIGHT_FD without PROTOCOL_F_INFLIGHT_SHMFD");
        }
        events.inflightRequested(x.numQueues(), x.queueSize());
        int fd;
        try {
            fd = InflightRegion.create(x.numQueues(), x.queueSize(), vrings.length);
        } catch (IllegalArgumentException e) {
            LOG.warning(name + ": no inflight region: " + e.getMessage());
            socket.send(VhostUserCodec.inflightReply(0, 0, x.numQueues(), x.queueSize(), -1));
            return;
        }
        try {
            socket.send(VhostUserCodec.inflightReply(InflightRegion.regionBytes(x.numQueues(), x.queueSize()), 0,
                    x.numQueues(), x.queueSize(), fd));
        } finally {
            Libc.closeQuietly(fd); // the front-end has its own copy now
        }
    }

    private String setInflightFd(SetInflightFd x) throws VhostUserProtocolException {
        try {
            if (!inflightAcked()) {
                throw new VhostUserProtocolException("SET_INFLIGHT_FD without PROTOCOL_F_INFLIGHT_SHMFD");
            }
            InflightRegion next;
            try {
                next = InflightRegion.map(x.fd(), x.mmapSize(), x.mmapOffset(), x.numQueues(), x.queueSize(), vrings.length);
            } catch (IllegalArgumentException e) {
                return "inflight region rejected: " + e.getMessage();
            } catch (RuntimeException e) {
                return "inflight region cannot be mapped: " + e.getMessage();
            }
            events.inflightSet(x.numQueues(), x.queueSize());
            setInflight(next);
            return null;
        } finally {
            Libc.closeQuietly(x.fd()); // the mapping stays valid
        }
    }

    /** Replaces the region (rings that run stop first: their tracker writes into the old one). */
    private void setInflight(InflightRegion next) {
        boolean[] wasRunning = new boolean[vrings.length];
        for (int i = 0; i < vrings.length; i++) {
            wasRunning[i] = vrings[i].running();
            vrings[i].stopWorker();
        }
        InflightRegion old = inflight;
        inflight = next;
        for (Vring v : vrings) {
            v.inflight = next;
        }
        if (old != null) {
            old.close();
        }
        for (int i = 0; i < vrings.length; i++) {
            if (wasRunning[i]) {
                vrings[i].startIfReady(name, memory, device, eventIdx());
            }
        }
    }

    private Vring vring(RequestCode code, int index) throws VhostUserProtocolException {
        if (index < 0 || index >= vrings.length) {
            throw new VhostUserProtocolException(code + " for ring " + index + " of a " + vrings.length + "-queue device");
        }
        return vrings[index];
    }

    /** Handles one request; returns null on success or the reason it was refused. */
    private String handle(Request r, boolean needReply) throws VhostUserProtocolException {
        switch (r) {
            case GetFeatures x -> socket.send(VhostUserCodec.u64Reply(x.code(), offeredFeatures()));
            case SetFeatures x -> {
                if ((x.features() & ~offeredFeatures()) != 0) {
                    throw new VhostUserProtocolException("SET_FEATURES acks unoffered bits 0x"
                            + Long.toHexString(x.features() & ~offeredFeatures()));
                }
                // Rings that run are restarted so a changed EVENT_IDX takes effect consistently.
                boolean[] wasRunning = new boolean[vrings.length];
                for (int i = 0; i < vrings.length; i++) {
                    wasRunning[i] = vrings[i].running();
                    vrings[i].stopWorker();
                }
                ackedFeatures = x.features();
                device.featuresAcked(ackedFeatures);
                for (int i = 0; i < vrings.length; i++) {
                    if (wasRunning[i]) {
                        vrings[i].startIfReady(name, memory, device, eventIdx());
                    }
                }
            }
            case GetProtocolFeatures x -> socket.send(VhostUserCodec.u64Reply(x.code(), protocolFeatures));
            case SetProtocolFeatures x -> {
                if ((x.features() & ~protocolFeatures) != 0) {
                    throw new VhostUserProtocolException("SET_PROTOCOL_FEATURES acks unoffered bits 0x"
                            + Long.toHexString(x.features() & ~protocolFeatures));
                }
                ackedProtocolFeatures = x.features();
            }
            case SetOwner x -> { }
            case ResetOwner x -> {
                for (Vring v : vrings) {
                    v.reset();
                }
                ackedFeatures = 0;
                device.featuresAcked(0);
            }
            case SetMemTable x -> {
                return setMemTable(x);
            }
            case SetVringNum x -> {
                Vring v = vring(x.code(), x.index());
                int n = x.num();
                if (n <= 0 || n > SplitQueue.MAX_SIZE || (n & (n - 1)) != 0) {
                    throw new VhostUserProtocolException("SET_VRING_NUM " + Integer.toUnsignedString(n)
                            + " for ring " + x.index() + " is not a power of two in [1, " + SplitQueue.MAX_SIZE + "]");
                }
                if (v.running()) {
                    return "ring " + x.index() + " is running";
                }
                v.num = n;
            }
            case SetVringAddr x -> {
                Vring v = vring(x.code(), x.index());
                boolean wasRunning = v.running();
                v.stopWorker();
                v.descAddr = x.descUserAddr();
                v.usedAddr = x.usedUserAddr();
                v.availAddr = x.availUserAddr();
                v.addrSet = true;
                if (wasRunning) {
                    v.startIfReady(name, memory, device, eventIdx());
                }
            }
            case SetVringBase x -> {
                Vring v = vring(x.code(), x.index());
                if (v.running()) {
                    return "ring " + x.index() + " is running";
                }
                if ((x.num() & ~0xFFFF) != 0) {
                    throw new VhostUserProtocolException("SET_VRING_BASE " + x.num() + " beyond 16 bits");
                }
                v.base = x.num();
            }
            case GetVringBase x -> {
                // Stops the ring (vhost-user.rst); the reply is where to resume.
                Vring v = vring(x.code(), x.index());
                v.stopWorker();
                v.started = false;
                v.closeFds();
                socket.send(VhostUserCodec.vringStateReply(x.code(), x.index(), v.base));
            }
            case SetVringFd x -> {
                Vring v;
                try {
                    v = vring(x.code(), x.index());
                } catch (VhostUserProtocolException e) {
                    Libc.closeQuietly(x.fd());
                    throw e;
                }
                v.stopWorker();
                switch (x.code()) {
                    case SET_VRING_KICK -> {
                        Libc.closeQuietly(v.kickFd);
                        v.kickFd = x.fd();
                        if (x.fd() < 0) {
                            LOG.warning(name + ": ring " + x.index() + " without a kick fd (polling) is not supported; it stays idle");
                        }
                        v.started = true;
                        if ((ackedFeatures & bit(VHOST_USER_F_PROTOCOL_FEATURES)) == 0) {
                            v.enabled = true; // without protocol features rings start enabled
                        }
                    }
                    case SET_VRING_CALL -> {
                        Libc.closeQuietly(v.callFd);
                        v.callFd = x.fd();
                    }
                    default -> {
                        Libc.closeQuietly(v.errFd);
                        v.errFd = x.fd();
                    }
                }
                v.startIfReady(name, memory, device, eventIdx());
            }
            case GetQueueNum x -> socket.send(VhostUserCodec.u64Reply(x.code(), vrings.length));
            case SetVringEnable x -> {
                Vring v = vring(x.code(), x.index());
                v.enabled = x.enable();
                if (x.enable()) {
                    v.startIfReady(name, memory, device, eventIdx());
                } else {
                    v.stopWorker();
                }
            }
            case GetConfig x -> {
                byte[] data = x.offset() + x.size() <= MAX_CONFIG_SIZE ? device.readConfig(x.offset(), x.size()) : null;
                socket.send(VhostUserCodec.configReply(x.offset(), x.flags(), data));
            }
            case SetConfig x -> {
                if (!device.writeConfig(x.offset(), x.data())) {
                    return "device refused config write at " + x.offset();
                }
            }
            case GetMaxMemSlots x -> socket.send(VhostUserCodec.u64Reply(x.code(), MAX_MEM_REGIONS));
            case GetInflightFd x -> getInflightFd(x);
            case SetInflightFd x -> {
                return setInflightFd(x);
            }
            case Other x -> {
                for (int fd : x.otherFds()) {
                    Libc.closeQuietly(fd);
                }
                throw new VhostUserProtocolException("unsupported request " + x.code());
            }
        }
        return null;
    }

    private String setMemTable(SetMemTable x) {
        MemoryTable next;
        try {
            next = MemoryTable.map(x.regions(), x.regionFds());
        } catch (IllegalArgumentException e) {
            return "memory table rejected: " + e.getMessage();
        } finally {
            // The mappings stay valid after the fds are closed.
            for (int fd : x.regionFds()) {
                Libc.closeQuietly(fd);
            }
        }
        // Quiesce every ring before the old mappings go away, then restart on the new table.
        boolean[] wasRunning = new boolean[vrings.length];
        for (int i = 0; i < vrings.length; i++) {
            wasRunning[i] = vrings[i].running();
            vrings[i].stopWorker();
        }
        MemoryTable old = memory;
        memory = next;
        if (old != null) {
            old.close();
        }
        for (Vring v : vrings) {
            v.startIfReady(name, memory, device, eventIdx());
        }
        return null;
    }
}
