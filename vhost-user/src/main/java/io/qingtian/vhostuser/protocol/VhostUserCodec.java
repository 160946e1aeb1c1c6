package io.qingtian.vhostuser.protocol;

import static io.qingtian.vhostuser.protocol.VhostUser.*;

import io.qingtian.vhostuser.protocol.Request.*;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes and decodes vhost-user messages (QEMU docs/interop/vhost-user.rst) for both
 * sides. Decoding is strict: the header version and flags, the payload size of each request
 * type, and the number of fds must be exactly what the specification says; anything else
 * is a {@link VhostUserProtocolException}. Decoding never closes fds; whoever received the
 * message closes them when decoding fails.
 */
public final class VhostUserCodec {
    private static final int VRING_STATE_SIZE = 8;
    private static final int VRING_ADDR_SIZE = 40;
    private static final int CONFIG_HEADER_SIZE = 12;
    /** Inflight description: u64 mmap_size, u64 mmap_offset, u16 num_queues, u16 queue_size, 4 bytes padding (QEMU's struct). */
    public static final int INFLIGHT_SIZE = 24;

    private VhostUserCodec() {}

    /** Checks a header as read from the wire, before its payload is read. */
    public static void checkHeader(int request, int flags, int size, boolean expectReply) throws VhostUserProtocolException {
        if ((flags & FLAG_VERSION_MASK) != FLAG_VERSION) {
            throw new VhostUserProtocolException("unsupported vhost-user version " + (flags & FLAG_VERSION_MASK));
        }
        if ((flags & ~FLAGS_KNOWN) != 0) {
            throw new VhostUserProtocolException("unknown header flags 0x" + Integer.toHexString(flags));
        }
        if (((flags & FLAG_REPLY) != 0) != expectReply) {
            throw new VhostUserProtocolException(expectReply ? "expected a reply, got a request" : "unexpected reply flag on a request");
        }
        if (size < 0 || size > MAX_PAYLOAD) {
            throw new VhostUserProtocolException("payload size " + Integer.toUnsignedString(size) + " exceeds " + MAX_PAYLOAD);
        }
        if (RequestCode.of(request) == null) {
            throw new VhostUserProtocolException("unknown request " + Integer.toUnsignedString(request));
        }
    }

    // ---------------------------------------------------------------- requests

    public static Message encode(Request r, boolean needReply) {
        int flags = FLAG_VERSION | (needReply ? FLAG_NEED_REPLY : 0);
        ByteBuffer b;
        int[] fds = new int[0];
        switch (r) {
            case GetFeatures x -> b = buf(0);
            case GetProtocolFeatures x -> b = buf(0);
            case SetOwner x -> b = buf(0);
            case ResetOwner x -> b = buf(0);
            case GetQueueNum x -> b = buf(0);
            case GetMaxMemSlots x -> b = buf(0);
            case SetFeatures x -> b = buf(8).putLong(x.features());
            case SetProtocolFeatures x -> b = buf(8).putLong(x.features());
            case SetMemTable x -> {
                b = buf(8 + MEM_REGION_SIZE * x.regions().size()).putInt(x.regions().size()).putInt(0);
                for (MemoryRegion m : x.regions()) {
                    b.putLong(m.guestPhysAddr()).putLong(m.memorySize()).putLong(m.userspaceAddr()).putLong(m.mmapOffset());
                }
                fds = x.regionFds();
            }
            case SetVringNum x -> b = buf(VRING_STATE_SIZE).putInt(x.index()).putInt(x.num());
            case SetVringBase x -> b = buf(VRING_STATE_SIZE).putInt(x.index()).putInt(x.num());
            case GetVringBase x -> b = buf(VRING_STATE_SIZE).putInt(x.index()).putInt(0);
            case SetVringEnable x -> b = buf(VRING_STATE_SIZE).putInt(x.index()).putInt(x.enable() ? 1 : 0);
            case SetVringAddr x -> b = buf(VRING_ADDR_SIZE).putInt(x.index()).putInt(x.flags())
                    .putLong(x.descUserAddr()).putLong(x.usedUserAddr()).putLong(x.availUserAddr()).putLong(x.logGuestAddr());
            case SetVringFd x -> {
                b = buf(8).putLong((x.index() & VRING_INDEX_MASK) | (x.fd() < 0 ? VRING_NOFD_MASK : 0));
                fds = x.fds();
            }
            case GetConfig x -> b = buf(CONFIG_HEADER_SIZE + x.size()).putInt(x.offset()).putInt(x.size()).putInt(x.flags());
            case SetConfig x -> b = buf(CONFIG_HEADER_SIZE + x.data().length).putInt(x.offset())
                    .putInt(x.data().length).putInt(x.flags()).put(x.data());
            case GetInflightFd x -> b = buf(INFLIGHT_SIZE).putLong(0).putLong(0)
                    .putShort((short) x.numQueues()).putShort((short) x.queueSize()).putInt(0);
            case SetInflightFd x -> {
                b = buf(INFLIGHT_SIZE).putLong(x.mmapSize()).putLong(x.mmapOffset())
                        .putShort((short) x.numQueues()).putShort((short) x.queueSize()).putInt(0);
                fds = x.fds();
            }
            case Other x -> {
                b = buf(x.payload().length).put(x.payload());
                fds = x.otherFds();
            }
        }
        return new Message(r.code().code(), flags, b.array(), fds);
    }

    /** Decodes a request; its header must already have passed {@link #checkHeader}. */
    public static Request decode(Message m) throws VhostUserProtocolException {
        checkHeader(m.request(), m.flags(), m.payload().length, false);
        RequestCode code = RequestCode.of(m.request());
        ByteBuffer b = ByteBuffer.wrap(m.payload()).order(ByteOrder.LITTLE_ENDIAN);
        int[] fds = m.fds();
        return switch (code) {
            case GET_FEATURES -> noFds(code, fds, size(code, b, 0, new GetFeatures()));
            case GET_PROTOCOL_FEATURES -> noFds(code, fds, size(code, b, 0, new GetProtocolFeatures()));
            case SET_OWNER -> noFds(code, fds, size(code, b, 0, new SetOwner()));
            case RESET_OWNER -> noFds(code, fds, size(code, b, 0, new ResetOwner()));
            case GET_QUEUE_NUM -> noFds(code, fds, size(code, b, 0, new GetQueueNum()));
            case GET_MAX_MEM_SLOTS -> noFds(code, fds, size(code, b, 0, new GetMaxMemSlots()));
            case SET_FEATURES -> {
                expectSize(code, b, 8);
                yield noFds(code, fds, new SetFeatures(b.getLong()));
            }
            case SET_PROTOCOL_FEATURES -> {
                expectSize(code, b, 8);
                yield noFds(code, fds, new SetProtocolFeatures(b.getLong()));
            }
            case SET_MEM_TABLE -> decodeMemTable(b, fds);
            case SET_VRING_NUM -> {
                expectSize(code, b, VRING_STATE_SIZE);
                yield noFds(code, fds, new SetVringNum(b.getInt(), b.getInt()));
            }
            case SET_VRING_BASE -> {
                expectSize(code, b, VRING_STATE_SIZE);
                yield noFds(code, fds, new SetVringBase(b.getInt(), b.getInt()));
            }
            case GET_VRING_BASE -> {
                expectSize(code, b, VRING_STATE_SIZE);
                yield noFds(code, fds, new GetVringBase(b.getInt()));
            }
            case SET_VRING_ENABLE -> {
                expectSize(code, b, VRING_STATE_SIZE);
                int index = b.getInt();
                int num = b.getInt();
                if (num != 0 && num != 1) {
                    throw new VhostUserProtocolException("SET_VRING_ENABLE with state " + num);
                }
                yield noFds(code, fds, new SetVringEnable(index, num == 1));
            }
            case SET_VRING_ADDR -> {
                expectSize(code, b, VRING_ADDR_SIZE);
                yield noFds(code, fds, new SetVringAddr(b.getInt(), b.getInt(), b.getLong(), b.getLong(), b.getLong(), b.getLong()));
            }
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> {
                expectSize(code, b, 8);
                long v = b.getLong();
                if ((v & ~(VRING_INDEX_MASK | VRING_NOFD_MASK)) != 0) {
                    throw new VhostUserProtocolException(code + " with unknown bits 0x" + Long.toHexString(v));
                }
                boolean nofd = (v & VRING_NOFD_MASK) != 0;
                if (fds.length != (nofd ? 0 : 1)) {
                    throw new VhostUserProtocolException(code + " carries " + fds.length + " fds, expected " + (nofd ? 0 : 1));
                }
                yield new SetVringFd(code, (int) (v & VRING_INDEX_MASK), nofd ? -1 : fds[0]);
            }
            case GET_CONFIG -> {
                int[] h = configHeader(code, b);
                if (b.remaining() != h[1]) {
                    throw new VhostUserProtocolException("GET_CONFIG size " + h[1] + " but " + b.remaining() + " payload bytes");
                }
                yield noFds(code, fds, new GetConfig(h[0], h[1], h[2]));
            }
            case SET_CONFIG -> {
                int[] h = configHeader(code, b);
                if (b.remaining() != h[1]) {
                    throw new VhostUserProtocolException("SET_CONFIG size " + h[1] + " but " + b.remaining() + " payload bytes");
                }
                byte[] data = new byte[h[1]];
                b.get(data);
                yield noFds(code, fds, new SetConfig(h[0], h[2], data));
            }
            case GET_INFLIGHT_FD -> {
                expectSize(code, b, INFLIGHT_SIZE);
                b.getLong();
                b.getLong();
                yield noFds(code, fds, new GetInflightFd(Short.toUnsignedInt(b.getShort()), Short.toUnsignedInt(b.getShort())));
            }
            case SET_INFLIGHT_FD -> {
                expectSize(code, b, INFLIGHT_SIZE);
                if (fds.length != 1) {
                    throw new VhostUserProtocolException(code + " carries " + fds.length + " fds, expected 1");
                }
                long size = b.getLong();
                long offset = b.getLong();
                yield new SetInflightFd(size, offset, Short.toUnsignedInt(b.getShort()), Short.toUnsignedInt(b.getShort()), fds[0]);
            }
            default -> new Other(code, m.payload(), fds);
        };
    }

    private static Request decodeMemTable(ByteBuffer b, int[] fds) throws VhostUserProtocolException {
        if (b.remaining() < 8) {
            throw new VhostUserProtocolException("SET_MEM_TABLE payload of " + b.remaining() + " bytes");
        }
        int n = b.getInt();
        b.getInt(); // padding
        if (n < 1 || n > MAX_MEM_REGIONS) {
            throw new VhostUserProtocolException("SET_MEM_TABLE with " + Integer.toUnsignedString(n) + " regions (1.." + MAX_MEM_REGIONS + ")");
        }
        if (b.remaining() != n * MEM_REGION_SIZE) {
            throw new VhostUserProtocolException("SET_MEM_TABLE of " + n + " regions but " + b.remaining() + " region bytes");
        }
        if (fds.length != n) {
            throw new VhostUserProtocolException("SET_MEM_TABLE of " + n + " regions carries " + fds.length + " fds");
        }
        List<MemoryRegion> regions = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            long gpa = b.getLong();
            long size = b.getLong();
            long uva = b.getLong();
            long off = b.getLong();
            if (size <= 0 || gpa < 0 || off < 0 || gpa + size < gpa || off + size < off) {
                throw new VhostUserProtocolException("SET_MEM_TABLE region " + i + " has a bad range (gpa 0x"
                        + Long.toHexString(gpa) + ", size 0x" + Long.toHexString(size) + ", offset 0x" + Long.toHexString(off) + ")");
            }
            regions.add(new MemoryRegion(gpa, size, uva, off));
        }
        return new SetMemTable(regions, fds);
    }

    private static int[] configHeader(RequestCode code, ByteBuffer b) throws VhostUserProtocolException {
        if (b.remaining() < CONFIG_HEADER_SIZE) {
            throw new VhostUserProtocolException(code + " payload of " + b.remaining() + " bytes");
        }
        int offset = b.getInt();
        int size = b.getInt();
        int flags = b.getInt();
        if (size < 0 || size > MAX_CONFIG_SIZE || offset < 0 || offset > MAX_CONFIG_SIZE) {
            throw new VhostUserProtocolException(code + " offset " + offset + " size " + size + " beyond " + MAX_CONFIG_SIZE);
        }
        return new int[] {offset, size, flags};
    }

    // ---------------------------------------------------------------- replies

    /** A u64 reply: GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, GET_MAX_MEM_SLOTS, REPLY_ACK. */
    public static Message u64Reply(RequestCode to, long value) {
        return new Message(to.code(), FLAG_VERSION | FLAG_REPLY, buf(8).putLong(value).array(), new int[0]);
    }

    /** GET_VRING_BASE's reply: the vring state (index, next avail index). */
    public static Message vringStateReply(RequestCode to, int index, int num) {
        return new Message(to.code(), FLAG_VERSION | FLAG_REPLY, buf(VRING_STATE_SIZE).putInt(index).putInt(num).array(), new int[0]);
    }

    /** GET_CONFIG's reply; {@code data == null} is the empty reply that signals failure. */
    public static Message configReply(int offset, int flags, byte[] data) {
        byte[] payload = data == null ? new byte[0]
                : buf(CONFIG_HEADER_SIZE + data.length).putInt(offset).putInt(data.length).putInt(flags).put(data).array();
        return new Message(RequestCode.GET_CONFIG.code(), FLAG_VERSION | FLAG_REPLY, payload, new int[0]);
    }

    /** GET_INFLIGHT_FD's reply: the region's size and offset in {@code fd}; size 0 and no fd when there is none. */
    public static Message inflightReply(long mmapSize, long mmapOffset, int numQueues, int queueSize, int fd) {
        byte[] p = buf(INFLIGHT_SIZE).putLong(mmapSize).putLong(mmapOffset)
                .putShort((short) numQueues).putShort((short) queueSize).putInt(0).array();
        return new Message(RequestCode.GET_INFLIGHT_FD.code(), FLAG_VERSION | FLAG_REPLY, p, fd < 0 ? new int[0] : new int[] {fd});
    }

    /** Decodes GET_INFLIGHT_FD's reply as a {@link SetInflightFd} to send back (fd -1 when none came). */
    public static SetInflightFd decodeInflightReply(Message m) throws VhostUserProtocolException {
        checkHeader(m.request(), m.flags(), m.payload().length, true);
        if (m.request() != RequestCode.GET_INFLIGHT_FD.code() || m.payload().length != INFLIGHT_SIZE || m.fds().length > 1) {
            throw new VhostUserProtocolException("bad GET_INFLIGHT_FD reply " + m);
        }
        ByteBuffer b = ByteBuffer.wrap(m.payload()).order(ByteOrder.LITTLE_ENDIAN);
        long size = b.getLong();
        long offset = b.getLong();
        int nq = Short.toUnsignedInt(b.getShort());
        int qs = Short.toUnsignedInt(b.getShort());
        return new SetInflightFd(size, offset, nq, qs, m.fds().length == 1 ? m.fds()[0] : -1);
    }

    public static long decodeU64Reply(RequestCode to, Message m) throws VhostUserProtocolException {
        checkReply(to, m, 8);
        return ByteBuffer.wrap(m.payload()).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** Returns the num field of a vring state reply after checking its index. */
    public static int decodeVringStateReply(RequestCode to, int index, Message m) throws VhostUserProtocolException {
        checkReply(to, m, VRING_STATE_SIZE);
        ByteBuffer b = ByteBuffer.wrap(m.payload()).order(ByteOrder.LITTLE_ENDIAN);
        int gotIndex = b.getInt();
        if (gotIndex != index) {
            throw new VhostUserProtocolException(to + " reply for ring " + gotIndex + ", asked for " + index);
        }
        return b.getInt();
    }

    public static byte[] decodeConfigReply(int offset, int size, Message m) throws VhostUserProtocolException {
        checkReply(RequestCode.GET_CONFIG, m, CONFIG_HEADER_SIZE + size);
        ByteBuffer b = ByteBuffer.wrap(m.payload()).order(ByteOrder.LITTLE_ENDIAN);
        int gotOffset = b.getInt();
        int gotSize = b.getInt();
        b.getInt();
        if (gotOffset != offset || gotSize != size) {
            throw new VhostUserProtocolException("GET_CONFIG reply for offset " + gotOffset + " size " + gotSize);
        }
        byte[] data = new byte[size];
        b.get(data);
        return data;
    }

    private static void checkReply(RequestCode to, Message m, int size) throws VhostUserProtocolException {
        checkHeader(m.request(), m.flags(), m.payload().length, true);
        if (m.request() != to.code()) {
            throw new VhostUserProtocolException("reply to " + RequestCode.of(m.request()) + " while waiting for " + to);
        }
        if (m.payload().length != size) {
            throw new VhostUserProtocolException(to + " reply of " + m.payload().length + " bytes, expected " + size);
        }
        if (m.fds().length != 0) {
            throw new VhostUserProtocolException(to + " reply carries fds");
        }
    }

    // ---------------------------------------------------------------- helpers

    private static ByteBuffer buf(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void expectSize(RequestCode code, ByteBuffer b, int size) throws VhostUserProtocolException {
        if (b.remaining() != size) {
            throw new VhostUserProtocolException(code + " payload of " + b.remaining() + " bytes, expected " + size);
        }
    }

    private static <T extends Request> T size(RequestCode code, ByteBuffer b, int size, T r) throws VhostUserProtocolException {
        expectSize(code, b, size);
        return r;
    }

    private static <T extends Request> T noFds(RequestCode code, int[] fds, T r) throws VhostUserProtocolException {
        if (fds.length != 0) {
            throw new VhostUserProtocolException(code + " carries " + fds.length + " unexpected fds");
        }
        return r;
    }
}
