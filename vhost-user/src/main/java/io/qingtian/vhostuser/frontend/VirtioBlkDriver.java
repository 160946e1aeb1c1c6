package io.qingtian.vhostuser.frontend;

import static io.qingtian.virtio.blk.VirtioBlk.*;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_CONFIG;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_INFLIGHT_SHMFD;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_MQ;
import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_REPLY_ACK;
import static io.qingtian.vhostuser.protocol.VhostUser.VHOST_USER_F_PROTOCOL_FEATURES;

import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.blk.BlkConfig;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.queue.DriverQueue;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeoutException;

/**
 * A tiny virtio-blk driver that plays the guest over vhost-user: it owns shared "guest"
 * memory (a memfd), builds split rings in it, kicks the back-end through eventfds and waits
 * for the call eventfd. Used by tests against our back-end and qemu-storage-daemon, and by
 * the storage benchmark.
 *
 * <p>Each queue has a fixed set of request slots (header, status byte, indirect table and a
 * data buffer). Synchronous helpers run one request; {@link #submit}/{@link #kick}/{@link
 * #reap} keep many in flight. One thread per queue.
 */
public final class VirtioBlkDriver implements AutoCloseable {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long REGION0_GPA = 0;
    private static final long REGION1_GPA = 1L << 30;
    private static final int SLOT_META = 4096;
    /** Status byte value before the device wrote one. */
    public static final int STATUS_PENDING = 0xFF;
    /** Whether the driver uses the back-end's inflight tracking when offered ({@code -Dqt.vhost.inflight=off}: never). */
    static final boolean INFLIGHT = !"off".equals(System.getProperty("qt.vhost.inflight", "on"));

    /**
     * @param queues       queues to set up (the device must have that many)
     * @param queueSize    descriptors per queue (power of two)
     * @param slots        requests in flight per queue at most
     * @param maxIoBytes   largest data transfer of one request
     * @param indirect     put each request in an indirect table (if the device offers it)
     * @param eventIdx     negotiate VIRTIO_RING_F_EVENT_IDX (if offered)
     * @param timeoutMillis how long to wait for a completion before failing
     */
    public record Options(int queues, int queueSize, int slots, int maxIoBytes, boolean indirect, boolean eventIdx,
                          int timeoutMillis) {
        public static Options defaults() {
            return new Options(1, 128, 32, 128 * 1024, false, true, 10_000);
        }

        public Options withQueues(int q) {
            return new Options(q, queueSize, slots, maxIoBytes, indirect, eventIdx, timeoutMillis);
        }

        public Options withIndirect(boolean i) {
            return new Options(queues, queueSize, slots, maxIoBytes, i, eventIdx, timeoutMillis);
        }

        public Options withEventIdx(boolean e) {
            return new Options(queues, queueSize, slots, maxIoBytes, indirect, e, timeoutMillis);
        }

        public Options withSlots(int s, int queueSize) {
            return new Options(queues, queueSize, s, maxIoBytes, indirect, eventIdx, timeoutMillis);
        }
    }

    private final VhostUserFrontend frontend;
    private final SharedMemory memory;
    private final Options options;
    private final long features;
    private final BlkConfig config;
    private final Queue[] queues;

    private final class Queue {
        final int index;
        final DriverQueue ring;
        final int kickFd;
        final int callFd;
        final EventFd ev = new EventFd();
        final long[] slotGpa;
        final int[] headToSlot;
        final int[] freeSlots;
        int freeSlotCount;
        final int[] ids;
        final int[] lens;
        final long[] addr = new long[3];
        final int[] len = new int[3];
        final boolean[] writable = new boolean[3];

        Queue(int index) throws GuestMemoryException {
            this.index = index;
            int size = options.queueSize();
            long desc = memory.allocate(0, 16L * size, 4096);
            long avail = memory.allocate(0, 6 + 2L * size, 4096);
            long used = memory.allocate(0, 6 + 8L * size, 4096);
            ring = new DriverQueue(memory.memory(), size, desc, avail, used, (features & bit(VIRTIO_RING_F_EVENT_IDX)) != 0);
            kickFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            callFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            slotGpa = new long[options.slots()];
            freeSlots = new int[options.slots()];
            for (int i = 0; i < slotGpa.length; i++) {
                slotGpa[i] = memory.allocate(1, SLOT_META + options.maxIoBytes(), 4096);
                freeSlots[i] = slotGpa.length - 1 - i;
            }
            freeSlotCount = slotGpa.length;
            headToSlot = new int[size];
            ids = new int[size];
            lens = new int[size];
        }
    }

    private VirtioBlkDriver(VhostUserFrontend frontend, SharedMemory memory, Options options, long features, BlkConfig config) {
        this.frontend = frontend;
        this.memory = memory;
        this.options = options;
        this.features = features;
        this.config = config;
        this.queues = new Queue[options.queues()];
    }

    /** Connects, negotiates, shares memory and starts every queue. */
    public static VirtioBlkDriver connect(Path socket, Options o) throws VhostUserProtocolException {
        if (o.slots() * (o.indirect() ? 1 : 3) > o.queueSize()) {
            throw new IllegalArgumentException(o.slots() + " slots do not fit a " + o.queueSize() + "-entry queue");
        }
        VhostUserFrontend fe = VhostUserFrontend.connect(socket);
        SharedMemory mem = null;
        try {
            fe.setOwner();
            long offered = fe.getFeatures();
            if ((offered & bit(VIRTIO_F_VERSION_1)) == 0 || (offered & bit(VHOST_USER_F_PROTOCOL_FEATURES)) == 0) {
                throw new VhostUserProtocolException("back-end offers neither VERSION_1 nor protocol features: 0x" + Long.toHexString(offered));
            }
            long pf = fe.getProtocolFeatures() & (bit(PROTOCOL_F_MQ) | bit(PROTOCOL_F_REPLY_ACK) | bit(PROTOCOL_F_CONFIG)
                    | (INFLIGHT ? bit(PROTOCOL_F_INFLIGHT_SHMFD) : 0));
            fe.setProtocolFeatures(pf);
            if ((pf & bit(PROTOCOL_F_MQ)) != 0) {
                int n = fe.getQueueNum();
                if (n < o.queues()) {
                    throw new VhostUserProtocolException("back-end has " + n + " queues, " + o.queues() + " wanted");
                }
            } else if (o.queues() > 1) {
                throw new VhostUserProtocolException("back-end does not speak multiqueue");
            }
            BlkConfig cfg = (pf & bit(PROTOCOL_F_CONFIG)) != 0 ? BlkConfig.fromBytes(fe.getConfig(0, 60)) : null;
            long wanted = bit(VIRTIO_F_VERSION_1) | bit(VHOST_USER_F_PROTOCOL_FEATURES) | bit(VIRTIO_BLK_F_SEG_MAX)
                    | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_FLUSH) | bit(VIRTIO_BLK_F_DISCARD)
                    | bit(VIRTIO_BLK_F_WRITE_ZEROES) | bit(VIRTIO_BLK_F_RO) | bit(VIRTIO_BLK_F_MQ)
                    | (o.indirect() ? bit(VIRTIO_RING_F_INDIRECT_DESC) : 0) | (o.eventIdx() ? bit(VIRTIO_RING_F_EVENT_IDX) : 0);
            long acked = offered & wanted;
            if (o.indirect() && (acked & bit(VIRTIO_RING_F_INDIRECT_DESC)) == 0) {
                throw new VhostUserProtocolException("back-end does not offer indirect descriptors");
            }
            fe.setFeatures(acked);
            long slotBytes = (long) o.queues() * o.slots() * (SLOT_META + o.maxIoBytes()) + (1 << 20);
            long region0 = Math.max(1 << 20, ((long) o.queues() * 3 * 4096 + 20L * o.queueSize() * o.queues() + 0xFFFFF) & ~0xFFFFFL);
            mem = new SharedMemory(new long[] {REGION0_GPA, REGION1_GPA}, new long[] {region0, (slotBytes + 0xFFFFF) & ~0xFFFFFL});
            fe.setMemTable(VhostUserFrontend.memoryTable(mem.memory()), VhostUserFrontend.memoryTableFds(mem.memory()));
            if ((pf & bit(PROTOCOL_F_INFLIGHT_SHMFD)) != 0) {
                // Tracked like a hypervisor's front-end does it (the back-end's data path then
                // pays what it pays under a VM); this driver never reconnects, so the region
                // is handed over once and our fd is not kept.
                var region = fe.getInflightFd(o.queues(), o.queueSize());
                try {
                    if (region.fd() >= 0 && region.mmapSize() > 0) {
                        fe.setInflightFd(region);
                    }
                } finally {
                    io.qingtian.sys.Libc.closeQuietly(region.fd());
                }
            }
            VirtioBlkDriver d = new VirtioBlkDriver(fe, mem, o, acked, cfg);
            for (int q = 0; q < o.queues(); q++) {
                Queue queue = d.new Queue(q);
                d.queues[q] = queue;
                fe.setVringNum(q, o.queueSize());
                fe.setVringBase(q, 0);
                fe.setVringAddr(q, mem.userAddress(queue.ring.descGpa()), mem.userAddress(queue.ring.usedGpa()),
                        mem.userAddress(queue.ring.availGpa()));
                fe.setVringKick(q, queue.kickFd);
                fe.setVringCall(q, queue.callFd);
                fe.setVringEnable(q, true);
            }
            return d;
        } catch (GuestMemoryException e) {
            fe.close();
            if (mem != null) {
                mem.close();
            }
            throw new IllegalStateException(e);
        } catch (VhostUserProtocolException | RuntimeException e) {
            fe.close();
            if (mem != null) {
                mem.close();
            }
            throw e;
        }
    }

    public long features() {
        return features;
    }

    /** The device's config space as read at connect (null without PROTOCOL_F_CONFIG). */
    public BlkConfig config() {
        return config;
    }

    public VhostUserFrontend frontend() {
        return frontend;
    }

    public int queueCount() {
        return queues.length;
    }

    /** Data buffer of a slot: fill it before submitting a write, read it after a read completes. */
    public MemorySegment slotData(int queue, int slot) {
        return memory.slice(queues[queue].slotGpa[slot] + SLOT_META, options.maxIoBytes());
    }

    /** Status byte the device wrote for a slot's last request (or {@link #STATUS_PENDING}). */
    public int slotStatus(int queue, int slot) {
        return Byte.toUnsignedInt(memory.slice(queues[queue].slotGpa[slot] + 16, 1).get(ValueLayout.JAVA_BYTE, 0));
    }

    /**
     * Queues a request (not yet visible to the device; see {@link #kick}). For IN/OUT/GET_ID
     * {@code bytes} of the slot buffer are transferred; for DISCARD/WRITE_ZEROES the slot
     * buffer must hold {@code bytes} of segments. Returns the slot, or -1 when none is free.
     */
    public int submit(int queue, int type, long sector, int bytes) {
        Queue q = queues[queue];
        if (q.freeSlotCount == 0) {
            return -1;
        }
        if (bytes < 0 || bytes > options.maxIoBytes()) {
            throw new IllegalArgumentException("request of " + bytes + " bytes (max " + options.maxIoBytes() + ")");
        }
        int slot = q.freeSlots[--q.freeSlotCount];
        long base = q.slotGpa[slot];
        MemorySegment meta = memory.slice(base, 64);
        meta.set(U32, 0, type);
        meta.set(U32, 4, 0);
        meta.set(U64, 8, sector);
        meta.set(ValueLayout.JAVA_BYTE, 16, (byte) STATUS_PENDING);
        boolean dataIn = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
        int n = 0;
        q.addr[n] = base;
        q.len[n] = 16;
        q.writable[n++] = false;
        if (bytes > 0) {
            q.addr[n] = base + SLOT_META;
            q.len[n] = bytes;
            q.writable[n++] = dataIn;
        }
        q.addr[n] = base + 16;
        q.len[n] = 1;
        q.writable[n++] = true;
        int head;
        try {
            head = options.indirect() ? q.ring.addIndirect(base + 64, q.addr, q.len, q.writable, n)
                    : q.ring.add(q.addr, q.len, q.writable, n);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException(e);
        }
        if (head < 0) {
            q.freeSlots[q.freeSlotCount++] = slot;
            return -1;
        }
        q.headToSlot[head] = slot;
        return slot;
    }

    /** Publishes queued requests and kicks the device if it asked for it. */
    public void kick(int queue) {
        Queue q = queues[queue];
        q.ring.publish();
        if (q.ring.needsKick()) {
            q.ev.signal(q.kickFd);
        }
    }

    /**
     * Waits for at least one completion on {@code queue} and returns the completed slots in
     * {@code slots} (their slots become free again). Throws TimeoutException when nothing
     * completes within the configured timeout.
     */
    public int reap(int queue, int[] slots) throws TimeoutException {
        Queue q = queues[queue];
        while (true) {
            int n = q.ring.poll(q.ids, q.lens);
            if (n > 0) {
                int k = Math.min(n, slots.length);
                for (int i = 0; i < n; i++) {
                    int slot = q.headToSlot[q.ids[i]];
                    q.freeSlots[q.freeSlotCount++] = slot;
                    if (i < k) {
                        slots[i] = slot;
                    }
                }
                return k;
            }
            if (q.ring.enableInterrupts()) {
                continue;
            }
            int w = q.ev.await(q.callFd, -1, options.timeoutMillis());
            if (w == -1) {
                throw new TimeoutException("no completion on queue " + queue + " within " + options.timeoutMillis() + " ms");
            }
            q.ev.consume(q.callFd);
        }
    }

    /** Runs one request synchronously on an idle queue and returns its status. */
    private int run(int queue, int type, long sector, int bytes) throws TimeoutException {
        int slot = submit(queue, type, sector, bytes);
        if (slot < 0) {
            throw new IllegalStateException("queue " + queue + " has no free slot");
        }
        kick(queue);
        int[] done = new int[options.slots()];
        while (true) {
            int n = reap(queue, done);
            for (int i = 0; i < n; i++) {
                if (done[i] == slot) {
                    return slotStatus(queue, slot);
                }
            }
        }
    }

    public int read(int queue, long sector, byte[] dst) throws TimeoutException {
        int status = run(queue, VIRTIO_BLK_T_IN, sector, dst.length);
        MemorySegment.copy(slotData(queue, lastSlot(queue)), ValueLayout.JAVA_BYTE, 0, dst, 0, dst.length);
        return status;
    }

    public int write(int queue, long sector, byte[] src) throws TimeoutException {
        int slot = peekSlot(queue);
        MemorySegment.copy(src, 0, slotData(queue, slot), ValueLayout.JAVA_BYTE, 0, src.length);
        return run(queue, VIRTIO_BLK_T_OUT, sector, src.length);
    }

    public int flush(int queue) throws TimeoutException {
        return run(queue, VIRTIO_BLK_T_FLUSH, 0, 0);
    }

    public int discard(int queue, long sector, int sectors) throws TimeoutException {
        return segments(queue, VIRTIO_BLK_T_DISCARD, new long[] {sector}, new int[] {sectors}, 0);
    }

    public int writeZeroes(int queue, long sector, int sectors, boolean unmap) throws TimeoutException {
        return segments(queue, VIRTIO_BLK_T_WRITE_ZEROES, new long[] {sector}, new int[] {sectors},
                unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0);
    }

    /** DISCARD/WRITE_ZEROES with several {sector, count, flags} segments. */
    public int segments(int queue, int type, long[] sectors, int[] counts, int flags) throws TimeoutException {
        MemorySegment data = slotData(queue, peekSlot(queue));
        for (int i = 0; i < sectors.length; i++) {
            data.set(U64, 16L * i, sectors[i]);
            data.set(U32, 16L * i + 8, counts[i]);
            data.set(U32, 16L * i + 12, flags);
        }
        return run(queue, type, 0, 16 * sectors.length);
    }

    /** GET_ID; returns the id string (up to 20 bytes, NUL-trimmed) or null on failure. */
    public String getId(int queue) throws TimeoutException {
        int status = run(queue, VIRTIO_BLK_T_GET_ID, 0, ID_BYTES);
        if (status != VIRTIO_BLK_S_OK) {
            return null;
        }
        byte[] id = slotData(queue, lastSlot(queue)).asSlice(0, ID_BYTES).toArray(ValueLayout.JAVA_BYTE);
        int n = 0;
        while (n < id.length && id[n] != 0) {
            n++;
        }
        return new String(id, 0, n, StandardCharsets.UTF_8);
    }

    /** The slot the next submit on an idle queue will use. */
    private int peekSlot(int queue) {
        Queue q = queues[queue];
        return q.freeSlots[q.freeSlotCount - 1];
    }

    /** The slot the last synchronous request used (it went back on top of the free stack). */
    private int lastSlot(int queue) {
        return peekSlot(queue);
    }

    /** Stops ring {@code queue} (GET_VRING_BASE) and returns the back-end's next avail index. */
    public int stopQueue(int queue) throws VhostUserProtocolException {
        return frontend.getVringBase(queue);
    }

    /** {@link #stopQueue} for an idle queue (nothing in flight); named for what tests check. */
    public int getVringBaseAfterIdle(int queue) throws VhostUserProtocolException {
        if (queues[queue].freeSlotCount != options.slots()) {
            throw new IllegalStateException("queue " + queue + " has requests in flight");
        }
        return stopQueue(queue);
    }

    /** The driver's avail index for a queue: after a clean stop the back-end reports the same. */
    public int availIdx(int queue) {
        return queues[queue].ring.availIdx();
    }

    /** Disconnects (the back-end sees the socket close) and frees memory and eventfds. */
    @Override
    public void close() {
        frontend.close();
        for (Queue q : queues) {
            if (q != null) {
                Libc.closeQuietly(q.kickFd);
                Libc.closeQuietly(q.callFd);
            }
        }
        memory.close();
    }
}
