package io.qingtian.vhostuser.frontend;

import static io.qingtian.vhostuser.protocol.VhostUser.*;

import io.qingtian.sys.UnixSockets;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.memory.GuestRegion;
import io.qingtian.vhostuser.protocol.MemoryRegion;
import io.qingtian.vhostuser.protocol.Message;
import io.qingtian.vhostuser.protocol.Request;
import io.qingtian.vhostuser.protocol.Request.*;
import io.qingtian.vhostuser.protocol.RequestCode;
import io.qingtian.vhostuser.protocol.VhostUserCodec;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The front-end (driver/VMM) side of a vhost-user connection: one method per request,
 * each waiting for its reply, and for REPLY_ACK once negotiated. Device-agnostic: the test
 * harness's virtio-blk driver uses it, and so can the hypervisor, which passes its own guest
 * memory and the guest's ring addresses. Not thread-safe: one caller at a time.
 *
 * <p>Every reply is awaited at most {@link #replyTimeout()}: a back-end that accepted the
 * connection and then stopped answering (stalled, or hostile) fails the request with a
 * {@link VhostUserProtocolException} naming the socket, the request and the bound, instead of
 * hanging the caller (a vCPU thread activating the device, or the VMM's build). After that,
 * or after any other failure while reading a reply, the connection is broken for good: the
 * stream may be in the middle of a message, and a late reply would be taken for the answer
 * to the next request (rust-vmm's vhost front-end latches such errors the same way). The
 * socket is shut down, so whoever watches it for a hang-up (the hypervisor's proxy) sees a
 * disconnect; every later request fails at once with the first failure's reason.
 */
public final class VhostUserFrontend implements AutoCloseable {
    /**
     * How long a reply may take by default. Generous: in the nested lab a JVM back-end under
     * TCG can take seconds for a request, and a false timeout costs the guest a device reset;
     * the bound is there so that a dead back-end ends in an error, not to be tight.
     */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(30);

    private final VhostUserSocket socket;
    private final String peer;
    private final Duration replyTimeout;
    private long protocolFeatures;
    /** Why the connection broke, or null while it is usable. */
    private String broken;

    private VhostUserFrontend(VhostUserSocket socket, String peer, Duration replyTimeout) {
        this.socket = socket;
        this.peer = peer;
        this.replyTimeout = replyTimeout;
    }

    /** Connects to a back-end listening on {@code path}; replies are awaited {@link #DEFAULT_REPLY_TIMEOUT}. */
    public static VhostUserFrontend connect(Path path) {
        return connect(path, DEFAULT_REPLY_TIMEOUT);
    }

    /** Connects to a back-end listening on {@code path}; each reply is awaited at most {@code replyTimeout}. */
    public static VhostUserFrontend connect(Path path, Duration replyTimeout) {
        if (replyTimeout.isNegative() || replyTimeout.isZero()) {
            throw new IllegalArgumentException("reply timeout must be positive: " + replyTimeout);
        }
        return new VhostUserFrontend(new VhostUserSocket(UnixSockets.connect(path)), path.toString(), replyTimeout);
    }

    /** How long each reply is awaited. */
    public Duration replyTimeout() {
        return replyTimeout;
    }

    /** Why the connection is unusable (a reply timed out or was malformed), or null. */
    public String broken() {
        return broken;
    }

    /** The connection's socket fd, for a caller that polls for the back-end hanging up. */
    public int socketFd() {
        return socket.fd();
    }

    private boolean replyAck() {
        return (protocolFeatures & bit(PROTOCOL_F_REPLY_ACK)) != 0;
    }

    /** Sends a request that has no reply of its own; waits for the ack when REPLY_ACK is on. */
    public void send(Request r) throws VhostUserProtocolException {
        checkUsable();
        boolean ack = replyAck();
        socket.send(VhostUserCodec.encode(r, ack));
        if (ack) {
            long status = VhostUserCodec.decodeU64Reply(r.code(), receive(r.code()));
            if (status != 0) {
                throw new VhostUserProtocolException("back-end refused " + r.code() + " (status " + status + ")");
            }
        }
    }

    private Message ask(Request r) throws VhostUserProtocolException {
        checkUsable();
        socket.send(VhostUserCodec.encode(r, false));
        return receive(r.code());
    }

    private void checkUsable() throws VhostUserProtocolException {
        if (broken != null) {
            throw new VhostUserProtocolException("connection to vhost-user back-end " + peer + " is broken: " + broken);
        }
    }

    /** The reply to {@code request}, within the bound; any failure here breaks the connection. */
    private Message receive(RequestCode request) throws VhostUserProtocolException {
        long deadline = System.nanoTime() + replyTimeout.toNanos();
        Message m;
        try {
            m = socket.receive(true, deadline, () -> "vhost-user back-end " + peer + " did not answer " + request
                    + " within " + describe(replyTimeout));
            if (m == null) {
                throw new VhostUserProtocolException("back-end closed the connection");
            }
        } catch (VhostUserProtocolException | RuntimeException e) {
            broken = e.getMessage();
            socket.shutdown(); // the watcher (if any) sees the hang-up; a late reply is never read
            throw e;
        }
        return m;
    }

    /** "30 s" or "300 ms": the bound as a person would write it. */
    static String describe(Duration d) {
        long ms = d.toMillis();
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    public long getFeatures() throws VhostUserProtocolException {
        return VhostUserCodec.decodeU64Reply(RequestCode.GET_FEATURES, ask(new GetFeatures()));
    }

    public void setFeatures(long features) throws VhostUserProtocolException {
        send(new SetFeatures(features));
    }

    public long getProtocolFeatures() throws VhostUserProtocolException {
        return VhostUserCodec.decodeU64Reply(RequestCode.GET_PROTOCOL_FEATURES, ask(new GetProtocolFeatures()));
    }

    /** Sets protocol features; REPLY_ACK applies from the next request on. */
    public void setProtocolFeatures(long features) throws VhostUserProtocolException {
        send(new SetProtocolFeatures(features));
        protocolFeatures = features;
    }

    public void setOwner() throws VhostUserProtocolException {
        send(new SetOwner());
    }

    public int getQueueNum() throws VhostUserProtocolException {
        return (int) VhostUserCodec.decodeU64Reply(RequestCode.GET_QUEUE_NUM, ask(new GetQueueNum()));
    }

    public void setMemTable(List<MemoryRegion> regions, int[] fds) throws VhostUserProtocolException {
        send(new SetMemTable(regions, fds));
    }

    public void setVringNum(int index, int num) throws VhostUserProtocolException {
        send(new SetVringNum(index, num));
    }

    public void setVringBase(int index, int base) throws VhostUserProtocolException {
        send(new SetVringBase(index, base));
    }

    /** Ring addresses in the front-end's own address space (vhost-user.rst). */
    public void setVringAddr(int index, long desc, long used, long avail) throws VhostUserProtocolException {
        send(new SetVringAddr(index, 0, desc, used, avail, 0));
    }

    public void setVringKick(int index, int fd) throws VhostUserProtocolException {
        send(new SetVringFd(RequestCode.SET_VRING_KICK, index, fd));
    }

    public void setVringCall(int index, int fd) throws VhostUserProtocolException {
        send(new SetVringFd(RequestCode.SET_VRING_CALL, index, fd));
    }

    public void setVringErr(int index, int fd) throws VhostUserProtocolException {
        send(new SetVringFd(RequestCode.SET_VRING_ERR, index, fd));
    }

    public void setVringEnable(int index, boolean enable) throws VhostUserProtocolException {
        send(new SetVringEnable(index, enable));
    }

    /** Stops the ring and returns the next avail index the back-end would have consumed. */
    public int getVringBase(int index) throws VhostUserProtocolException {
        return VhostUserCodec.decodeVringStateReply(RequestCode.GET_VRING_BASE, index, ask(new GetVringBase(index)));
    }

    /**
     * GET_INFLIGHT_FD (needs PROTOCOL_F_INFLIGHT_SHMFD): the back-end's region for
     * {@code numQueues} queues of {@code queueSize}, returned as the SET_INFLIGHT_FD to send on
     * every later connection; its fd (-1 when the back-end has none) is the caller's to close.
     */
    public SetInflightFd getInflightFd(int numQueues, int queueSize) throws VhostUserProtocolException {
        Message m = ask(new GetInflightFd(numQueues, queueSize));
        try {
            return VhostUserCodec.decodeInflightReply(m);
        } catch (VhostUserProtocolException e) {
            for (int fd : m.fds()) {
                io.qingtian.sys.Libc.closeQuietly(fd);
            }
            throw e;
        }
    }

    /** SET_INFLIGHT_FD: hands the region over (the fd is duplicated into the message; the caller keeps its own). */
    public void setInflightFd(SetInflightFd region) throws VhostUserProtocolException {
        send(region);
    }

    public byte[] getConfig(int offset, int size) throws VhostUserProtocolException {
        return VhostUserCodec.decodeConfigReply(offset, size, ask(new GetConfig(offset, size, 0)));
    }

    public void setConfig(int offset, byte[] data) throws VhostUserProtocolException {
        send(new SetConfig(offset, 0, data));
    }

    /**
     * The memory table describing a VMM's guest memory: each region's guest-physical start,
     * size, the VMM's own mapping address and the region's offset in its fd. Regions without
     * an fd cannot be shared and are refused.
     */
    public static List<MemoryRegion> memoryTable(GuestMemory memory) {
        return memory.regions().stream().map(r -> {
            if (r.fd() < 0) {
                throw new IllegalArgumentException("guest region at 0x" + Long.toHexString(r.guestAddress())
                        + " has no fd: vhost-user needs fd-backed (memfd) guest memory");
            }
            return new MemoryRegion(r.guestAddress(), r.size(), r.mapping().address(), r.fdOffset());
        }).toList();
    }

    /** The fds matching {@link #memoryTable}, one per region. */
    public static int[] memoryTableFds(GuestMemory memory) {
        return memory.regions().stream().mapToInt(GuestRegion::fd).toArray();
    }

    /**
     * The VMM address of a guest-physical ring address, for SET_VRING_ADDR (the back-end
     * expects front-end user addresses there). Throws when the ring is not in guest memory.
     */
    public static long userAddress(GuestMemory memory, long gpa, long length) throws GuestMemoryException {
        return memory.slice(gpa, length).address();
    }

    /** Sends raw bytes (for tests of a back-end's handling of malformed input). */
    public void sendRaw(Message m) {
        socket.send(m);
    }

    /** Reads one raw reply, or null when the back-end closed the connection. */
    public Message receiveRaw() throws VhostUserProtocolException {
        return socket.receive(true);
    }

    @Override
    public void close() {
        socket.close();
    }
}
