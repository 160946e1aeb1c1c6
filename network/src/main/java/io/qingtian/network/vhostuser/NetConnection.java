package io.qingtian.network.vhostuser;

import static io.qingtian.vhostuser.protocol.VhostUser.MAX_CONFIG_SIZE;
import static io.qingtian.vhostuser.protocol.VhostUser.MAX_MEM_REGIONS;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_CONFIG;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_REPLY_ACK;
import static io.qingtian.vhostuser.protocol.VhostUser.VHOST_USER_F_PROTOCOL_FEATURES;
import static io.qingtian.vhostuser.protocol.VhostUser.bit;

import io.qingtian.network.virtionet.VirtioNet;
import io.qingtian.network.virtionet.VirtioNetPort;
import io.qingtian.sys.Libc;
import io.qingtian.vhostuser.backend.MemoryTable;
import io.qingtian.vhostuser.protocol.Message;
import io.qingtian.vhostuser.protocol.Request;
import io.qingtian.vhostuser.protocol.Request.GetConfig;
import io.qingtian.vhostuser.protocol.Request.GetFeatures;
import io.qingtian.vhostuser.protocol.Request.GetMaxMemSlots;
import io.qingtian.vhostuser.protocol.Request.GetProtocolFeatures;
import io.qingtian.vhostuser.protocol.Request.GetQueueNum;
import io.qingtian.vhostuser.protocol.Request.GetVringBase;
import io.qingtian.vhostuser.protocol.Request.Other;
import io.qingtian.vhostuser.protocol.Request.ResetOwner;
import io.qingtian.vhostuser.protocol.Request.SetConfig;
import io.qingtian.vhostuser.protocol.Request.SetFeatures;
import io.qingtian.vhostuser.protocol.Request.SetMemTable;
import io.qingtian.vhostuser.protocol.Request.SetOwner;
import io.qingtian.vhostuser.protocol.Request.SetProtocolFeatures;
import io.qingtian.vhostuser.protocol.Request.SetVringAddr;
import io.qingtian.vhostuser.protocol.Request.SetVringBase;
import io.qingtian.vhostuser.protocol.Request.SetVringEnable;
import io.qingtian.vhostuser.protocol.Request.SetVringFd;
import io.qingtian.vhostuser.protocol.Request.SetVringNum;
import io.qingtian.vhostuser.protocol.RequestCode;
import io.qingtian.vhostuser.protocol.VhostUserCodec;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.queue.SplitQueue;
import java.lang.foreign.MemorySegment;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One vhost-user-net front-end connection (docs/interop/vhost-user.rst) for one switch port,
 * built on the vhost-user module's codec, socket and memory table.
 *
 * <p>Why not the module's generic back-end: it runs every ring as "pop on kick, complete at
 * once", which fits a transmit queue and block requests, but a receive queue is driven by
 * the switch — its buffers must stay popped-able until a frame for the port arrives — and
 * the device must learn the negotiated features (header size, mergeable buffers). Here ring
 * 0 (receive) is handed to the {@link VirtioNetPort} as an {@link SplitRxRing}, ring 1
 * (transmit) gets a {@link TxWorker}.
 */
final class NetConnection {
    private static final Logger LOG = Logger.getLogger(NetConnection.class.getName());
    static final long PROTOCOL_FEATURES = bit(PROTOCOL_F_REPLY_ACK) | bit(PROTOCOL_F_CONFIG);
    private static final int QUEUES = 2;

    /** One ring's configuration as the front-end sets it. */
    private static final class Ring {
        int num;
        int base;
        long desc;
        long used;
        long avail;
        boolean addrSet;
        int kickFd = -1;
        int callFd = -1;
        int errFd = -1;
        boolean started;
        boolean enabled;
        TxWorker tx;
        SplitRxRing rx;

        boolean running() {
            return tx != null || rx != null;
        }

        void closeFds() {
            Libc.closeQuietly(kickFd);
            Libc.closeQuietly(callFd);
            Libc.closeQuietly(errFd);
            kickFd = -1;
            callFd = -1;
            errFd = -1;
        }
    }

    private final String name;
    private final VirtioNetPort port;
    private final VhostUserSocket socket;
    private final Ring[] rings = {new Ring(), new Ring()};
    private long ackedFeatures;
    private long ackedProtocolFeatures;
    private MemoryTable memory;

    NetConnection(String name, VirtioNetPort port, VhostUserSocket socket) {
        this.name = name;
        this.port = port;
        this.socket = socket;
    }

    private long offeredFeatures() {
        return VirtioNet.OFFERED_FEATURES | bit(VHOST_USER_F_PROTOCOL_FEATURES);
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
                    failure = handle(r);
                } catch (VhostUserProtocolException e) {
                    LOG.warning(name + ": closing connection: " + e.getMessage());
                    return;
                }
                if (failure == CLOSE) {
                    return;
                }
                if (!repliesItself(r.code()) && m.needsReply()
                        && (ackedProtocolFeatures & bit(PROTOCOL_F_REPLY_ACK)) != 0) {
                    socket.send(VhostUserCodec.u64Reply(r.code(), failure == null ? 0 : 1));
                } else if (failure != null) {
                    LOG.warning(name + ": closing connection: " + r.code() + " failed: " + failure);
                    return;
                }
            }
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, name + ": closing connection: " + e.getMessage(), e);
        } finally {
            cleanup();
        }
    }

    private static final String CLOSE = new String("close");

    private static boolean repliesItself(RequestCode c) {
        return switch (c) {
            case GET_FEATURES, GET_PROTOCOL_FEATURES, GET_VRING_BASE, GET_QUEUE_NUM, GET_CONFIG, GET_MAX_MEM_SLOTS -> true;
            default -> false;
        };
    }

    void cleanup() {
        for (int i = 0; i < rings.length; i++) {
            stop(i);
            rings[i].closeFds();
            rings[i] = new Ring();
        }
        if (memory != null) {
            memory.close();
            memory = null;
        }
        socket.close();
    }

    private Ring ring(RequestCode code, int index) throws VhostUserProtocolException {
        if (index < 0 || index >= QUEUES) {
            throw new VhostUserProtocolException(code + " for ring " + index + " of a " + QUEUES + "-queue device");
        }
        return rings[index];
    }

    private String handle(Request r) throws VhostUserProtocolException {
        switch (r) {
            case GetFeatures x -> socket.send(VhostUserCodec.u64Reply(x.code(), offeredFeatures()));
            case SetFeatures x -> {
                if ((x.features() & ~offeredFeatures()) != 0) {
                    throw new VhostUserProtocolException("SET_FEATURES acks unoffered bits 0x"
                            + Long.toHexString(x.features() & ~offeredFeatures()));
                }
                if (rings[0].running() || rings[1].running()) {
                    return "features cannot change while rings run";
                }
                ackedFeatures = x.features();
                port.setFeatures(ackedFeatures);
                LOG.fine(() -> name + ": features 0x" + Long.toHexString(ackedFeatures));
            }
            case GetProtocolFeatures x -> socket.send(VhostUserCodec.u64Reply(x.code(), PROTOCOL_FEATURES));
            case SetProtocolFeatures x -> {
                if ((x.features() & ~PROTOCOL_FEATURES) != 0) {
                    throw new VhostUserProtocolException("SET_PROTOCOL_FEATURES acks unoffered bits 0x"
                            + Long.toHexString(x.features() & ~PROTOCOL_FEATURES));
                }
                ackedProtocolFeatures = x.features();
            }
            case SetOwner x -> { }
            case ResetOwner x -> {
                for (int i = 0; i < QUEUES; i++) {
                    stop(i);
                    rings[i].closeFds();
                    rings[i] = new Ring();
                }
                ackedFeatures = 0;
            }
            case SetMemTable x -> {
                return setMemTable(x);
            }
            case SetVringNum x -> {
                Ring v = ring(x.code(), x.index());
                int n = x.num();
                if (n <= 0 || n > SplitQueue.MAX_SIZE || (n & (n - 1)) != 0) {
                    throw new VhostUserProtocolException("SET_VRING_NUM " + n + " is not a power of two");
                }
                if (v.running()) {
                    return "ring " + x.index() + " is running";
                }
                v.num = n;
            }
            case SetVringAddr x -> {
                Ring v = ring(x.code(), x.index());
                boolean was = v.running();
                stop(x.index());
                v.desc = x.descUserAddr();
                v.used = x.usedUserAddr();
                v.avail = x.availUserAddr();
                v.addrSet = true;
                if (was) {
                    startIfReady(x.index());
                }
            }
            case SetVringBase x -> {
                Ring v = ring(x.code(), x.index());
                if (v.running()) {
                    return "ring " + x.index() + " is running";
                }
                if ((x.num() & ~0xFFFF) != 0) {
                    throw new VhostUserProtocolException("SET_VRING_BASE " + x.num() + " beyond 16 bits");
                }
                v.base = x.num();
            }
            case GetVringBase x -> {
                Ring v = ring(x.code(), x.index());
                stop(x.index());
                v.started = false;
                v.closeFds();
                socket.send(VhostUserCodec.vringStateReply(x.code(), x.index(), v.base));
            }
            case SetVringFd x -> {
                Ring v;
                try {
                    v = ring(x.code(), x.index());
                } catch (VhostUserProtocolException e) {
                    Libc.closeQuietly(x.fd());
                    throw e;
                }
                stop(x.index());
                switch (x.code()) {
                    case SET_VRING_KICK -> {
                        Libc.closeQuietly(v.kickFd);
                        v.kickFd = x.fd();
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
                startIfReady(x.index());
            }
            case GetQueueNum x -> socket.send(VhostUserCodec.u64Reply(x.code(), QUEUES));
            case SetVringEnable x -> {
                Ring v = ring(x.code(), x.index());
                v.enabled = x.enable();
                if (x.enable()) {
                    startIfReady(x.index());
                } else {
                    stop(x.index());
                }
            }
            case GetConfig x -> {
                byte[] data = x.offset() + x.size() <= MAX_CONFIG_SIZE ? port.readConfig(x.offset(), x.size()) : null;
                socket.send(VhostUserCodec.configReply(x.offset(), x.flags(), data));
            }
            case SetConfig x -> {
                return "virtio-net config is read-only here (the MAC is assigned by the control plane)";
            }
            case GetMaxMemSlots x -> socket.send(VhostUserCodec.u64Reply(x.code(), MAX_MEM_REGIONS));
            case Other x -> {
                for (int fd : x.otherFds()) {
                    Libc.closeQuietly(fd);
                }
                LOG.warning(name + ": closing connection: unsupported request " + x.code());
                return CLOSE;
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
            for (int fd : x.regionFds()) {
                Libc.closeQuietly(fd);
            }
        }
        boolean[] was = new boolean[QUEUES];
        for (int i = 0; i < QUEUES; i++) {
            was[i] = rings[i].running();
            stop(i);
        }
        MemoryTable old = memory;
        memory = next;
        if (old != null) {
            old.close();
        }
        for (int i = 0; i < QUEUES; i++) {
            startIfReady(i);
        }
        return null;
    }

    /** Stops ring {@code i}, remembering where the driver should resume. */
    private void stop(int i) {
        Ring v = rings[i];
        if (v.tx != null) {
            v.base = v.tx.stop();
            v.tx = null;
        }
        if (v.rx != null) {
            port.setRxRing(null); // takes the port's lock: no frame is being written after this
            v.base = v.rx.nextAvail();
            v.rx = null;
        }
    }

    private void startIfReady(int i) {
        Ring v = rings[i];
        if (v.running() || !v.started || !v.enabled || memory == null || !v.addrSet || v.num == 0) {
            return;
        }
        boolean eventIdx = (ackedFeatures & VirtioNet.bit(VirtioNet.F_RING_EVENT_IDX)) != 0;
        SplitQueue q;
        try {
            MemorySegment desc = memory.ring(v.desc, SplitQueue.descTableBytes(v.num));
            MemorySegment avail = memory.ring(v.avail, SplitQueue.availRingBytes(v.num));
            MemorySegment used = memory.ring(v.used, SplitQueue.usedRingBytes(v.num));
            q = SplitQueue.create(v.num, desc, avail, used, memory.guestMemory(), eventIdx);
        } catch (GuestMemoryException | IllegalArgumentException e) {
            LOG.warning(name + ": ring " + i + " cannot start: " + e.getMessage());
            return;
        }
        q.setNextAvail(v.base);
        if (i == VirtioNet.RX_QUEUE) {
            v.rx = new SplitRxRing(q, v.callFd);
            port.setRxRing(v.rx);
        } else {
            if (v.kickFd < 0) {
                LOG.warning(name + ": transmit ring without a kick fd is not supported; it stays idle");
                return;
            }
            v.tx = new TxWorker(name + "-tx", q, port, v.kickFd, v.callFd);
            v.tx.start();
        }
    }
}
