package io.qingtian.virtio.blk;

import static io.qingtian.virtio.blk.VirtioBlk.*;

import io.qingtian.virtio.queue.ChainError;
import io.qingtian.virtio.queue.DescriptorChain;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The virtio-blk device model (virtio 1.2 §5.2): turns one descriptor chain into calls on a
 * {@link BlockBackend} and a status byte. Transport-agnostic: the hypervisor's virtio-pci
 * device and the card's vhost-user backend both feed it chains.
 *
 * <p>Framing follows §2.6.4 (no assumptions about descriptor boundaries): the device-readable
 * bytes are the 16-byte header then the request data; the device-writable bytes are the
 * data (IN, GET_ID) then the status byte, which is the last writable byte.
 *
 * <p>Stateless apart from counters, so one instance serves all queue workers concurrently.
 * Never throws: backend failures become VIRTIO_BLK_S_IOERR, malformed requests IOERR (or
 * UNSUPP for unknown types), chains without a status byte complete with length 0.
 */
public final class BlkDevice {
    private static final Logger LOG = Logger.getLogger(BlkDevice.class.getName());
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Segments the driver may put in one request; queue size 128 minus header and status. */
    public static final int SEG_MAX = 126;
    public static final int MAX_DISCARD_SECTORS = 0x3FFFFF;
    public static final int MAX_DISCARD_SEG = 32;
    public static final int MAX_WRITE_ZEROES_SECTORS = 0x3FFFFF;
    public static final int MAX_WRITE_ZEROES_SEG = 32;
    /** Discards aligned to 4 KiB let a file backend punch whole blocks. */
    public static final int DISCARD_SECTOR_ALIGNMENT = 8;
    /** Largest request that may be bounced when its descriptors are not sector-aligned. */
    private static final long MAX_BOUNCE = 64L << 20;

    private final BlockBackend backend;
    private final int numQueues;
    private final boolean readOnly;
    private final BlkStats stats = new BlkStats();

    public BlkDevice(BlockBackend backend, int numQueues, boolean readOnly) {
        if (numQueues < 1 || numQueues > 0xFFFF) {
            throw new IllegalArgumentException("queues must be in [1, 65535]: " + numQueues);
        }
        this.backend = backend;
        this.numQueues = numQueues;
        this.readOnly = readOnly || backend.readOnly();
    }

    public boolean readOnly() {
        return readOnly;
    }

    public int numQueues() {
        return numQueues;
    }

    public BlockBackend backend() {
        return backend;
    }

    public BlkStats stats() {
        return stats;
    }

    /** Device feature bits offered (§5.2.3, §6). CONFIG_WCE is not offered: the cache is always writeback and FLUSH is honoured. */
    public long features() {
        long f = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_RING_F_INDIRECT_DESC) | bit(VIRTIO_RING_F_EVENT_IDX)
                | bit(VIRTIO_BLK_F_SEG_MAX) | bit(VIRTIO_BLK_F_BLK_SIZE) | bit(VIRTIO_BLK_F_FLUSH)
                | bit(VIRTIO_BLK_F_DISCARD) | bit(VIRTIO_BLK_F_WRITE_ZEROES);
        if (numQueues > 1) {
            f |= bit(VIRTIO_BLK_F_MQ);
        }
        if (readOnly) {
            f |= bit(VIRTIO_BLK_F_RO);
        }
        return f;
    }

    /** The config space now (capacity follows backend resizes). */
    public BlkConfig config() {
        return new BlkConfig(backend.sizeBytes() >>> SECTOR_SHIFT, SEG_MAX, SECTOR_SIZE, numQueues,
                MAX_DISCARD_SECTORS, MAX_DISCARD_SEG, DISCARD_SECTOR_ALIGNMENT,
                MAX_WRITE_ZEROES_SECTORS, MAX_WRITE_ZEROES_SEG, true);
    }

    /**
     * Executes one popped chain and returns the used length to report (the number of
     * device-writable bytes, as QEMU does; 0 for a chain that had nowhere to put a status).
     */
    public int process(DescriptorChain chain) {
        if (chain.error() != ChainError.NONE || chain.writableBytes() < 1) {
            stats.malformed.increment();
            return 0;
        }
        int status;
        try {
            status = execute(chain);
        } catch (IOException | RuntimeException e) {
            // A backend failure fails this request only; the queue keeps serving.
            LOG.log(Level.FINE, "virtio-blk request failed", e);
            status = VIRTIO_BLK_S_IOERR;
        }
        if (status == VIRTIO_BLK_S_IOERR) {
            stats.errors.increment();
        } else if (status == VIRTIO_BLK_S_UNSUPP) {
            stats.unsupported.increment();
        }
        MemorySegment last = chain.buffer(chain.count() - 1);
        last.set(ValueLayout.JAVA_BYTE, last.byteSize() - 1, (byte) status);
        return (int) chain.writableBytes();
    }

    private int execute(DescriptorChain chain) throws IOException {
        if (chain.readableBytes() < REQUEST_HEADER_SIZE) {
            stats.malformed.increment();
            return VIRTIO_BLK_S_IOERR;
        }
        MemorySegment first = chain.buffer(0);
        int type;
        long sector;
        if (first.byteSize() >= REQUEST_HEADER_SIZE) {
            type = first.get(U32, 0);
            sector = first.get(U64, 8);
        } else {
            MemorySegment h = MemorySegment.ofArray(gatherReadable(chain, 0, REQUEST_HEADER_SIZE));
            type = h.get(U32, 0);
            sector = h.get(U64, 8);
        }
        return switch (type) {
            case VIRTIO_BLK_T_IN -> read(chain, sector);
            case VIRTIO_BLK_T_OUT -> write(chain, sector);
            case VIRTIO_BLK_T_FLUSH -> {
                stats.flushes.increment();
                backend.flush();
                yield VIRTIO_BLK_S_OK;
            }
            case VIRTIO_BLK_T_GET_ID -> getId(chain);
            case VIRTIO_BLK_T_DISCARD -> segments(chain, false);
            case VIRTIO_BLK_T_WRITE_ZEROES -> segments(chain, true);
            default -> VIRTIO_BLK_S_UNSUPP;
        };
    }

    /** Whether [sector, sector + bytes) lies inside the disk (no overflow for hostile sectors). */
    private boolean inRange(long sector, long bytes) {
        long capacity = backend.sizeBytes() >>> SECTOR_SHIFT;
        long sectors = bytes >>> SECTOR_SHIFT;
        return sector >= 0 && sector <= capacity && sectors <= capacity - sector;
    }

    private int read(DescriptorChain chain, long sector) throws IOException {
        long len = chain.writableBytes() - 1;
        if (len % SECTOR_SIZE != 0 || !inRange(sector, len)) {
            return VIRTIO_BLK_S_IOERR;
        }
        long pos = sector << SECTOR_SHIFT;
        if (sectorAligned(chain, chain.readableCount(), chain.count(), 0, len)) {
            long remaining = len;
            for (int i = chain.readableCount(); i < chain.count() && remaining > 0; i++) {
                MemorySegment b = chain.buffer(i);
                long n = Math.min(b.byteSize(), remaining);
                backend.read(pos, n == b.byteSize() ? b : b.asSlice(0, n));
                pos += n;
                remaining -= n;
            }
        } else {
            if (len > MAX_BOUNCE) {
                return VIRTIO_BLK_S_IOERR;
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(len, SECTOR_SIZE);
                backend.read(pos, bounce);
                long off = 0;
                for (int i = chain.readableCount(); i < chain.count() && off < len; i++) {
                    MemorySegment b = chain.buffer(i);
                    long n = Math.min(b.byteSize(), len - off);
                    MemorySegment.copy(bounce, off, b, 0, n);
                    off += n;
                }
            }
        }
        stats.reads.increment();
        stats.readBytes.add(len);
        return VIRTIO_BLK_S_OK;
    }

    private int write(DescriptorChain chain, long sector) throws IOException {
        if (readOnly) {
            return VIRTIO_BLK_S_IOERR;
        }
        long len = chain.readableBytes() - REQUEST_HEADER_SIZE;
        if (len % SECTOR_SIZE != 0 || !inRange(sector, len)) {
            return VIRTIO_BLK_S_IOERR;
        }
        long pos = sector << SECTOR_SHIFT;
        if (sectorAligned(chain, 0, chain.readableCount(), REQUEST_HEADER_SIZE, len)) {
            long skip = REQUEST_HEADER_SIZE;
            for (int i = 0; i < chain.readableCount(); i++) {
                MemorySegment b = chain.buffer(i);
                if (skip >= b.byteSize()) {
                    skip -= b.byteSize();
                    continue;
                }
                MemorySegment part = skip == 0 ? b : b.asSlice(skip);
                skip = 0;
                backend.write(pos, part);
                pos += part.byteSize();
            }
        } else {
            if (len > MAX_BOUNCE) {
                return VIRTIO_BLK_S_IOERR;
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bounce = a.allocate(len, SECTOR_SIZE);
                copyReadable(chain, REQUEST_HEADER_SIZE, bounce);
                backend.write(pos, bounce);
            }
        }
        stats.writes.increment();
        stats.writeBytes.add(len);
        return VIRTIO_BLK_S_OK;
    }

    /**
     * True when the data bytes [skip, skip+len) of descriptors [from, to) split into pieces
     * that are each a whole number of sectors (so each can go to the backend directly).
     */
    private static boolean sectorAligned(DescriptorChain chain, int from, int to, long skip, long len) {
        long remaining = len;
        for (int i = from; i < to && remaining > 0; i++) {
            long size = chain.buffer(i).byteSize();
            if (skip >= size) {
                skip -= size;
                continue;
            }
            long n = Math.min(size - skip, remaining);
            skip = 0;
            if (n % SECTOR_SIZE != 0) {
                return false;
            }
            remaining -= n;
        }
        return true;
    }

    private int getId(DescriptorChain chain) {
        byte[] id = new byte[ID_BYTES];
        byte[] serial = backend.serial().getBytes(StandardCharsets.UTF_8);
        System.arraycopy(serial, 0, id, 0, Math.min(serial.length, ID_BYTES));
        long room = chain.writableBytes() - 1;
        long n = Math.min(room, ID_BYTES);
        long off = 0;
        for (int i = chain.readableCount(); i < chain.count() && off < n; i++) {
            MemorySegment b = chain.buffer(i);
            long k = Math.min(b.byteSize(), n - off);
            MemorySegment.copy(id, (int) off, b, ValueLayout.JAVA_BYTE, 0, (int) k);
            off += k;
        }
        stats.getIds.increment();
        return VIRTIO_BLK_S_OK;
    }

    /** DISCARD and WRITE_ZEROES: a list of {sector, num_sectors, flags} segments (§5.2.6). */
    private int segments(DescriptorChain chain, boolean writeZeroes) throws IOException {
        if (readOnly) {
            return VIRTIO_BLK_S_IOERR;
        }
        long payload = chain.readableBytes() - REQUEST_HEADER_SIZE;
        int maxSeg = writeZeroes ? MAX_WRITE_ZEROES_SEG : MAX_DISCARD_SEG;
        long maxSectors = writeZeroes ? MAX_WRITE_ZEROES_SECTORS : MAX_DISCARD_SECTORS;
        if (payload <= 0 || payload % SEGMENT_SIZE != 0 || payload / SEGMENT_SIZE > maxSeg) {
            return VIRTIO_BLK_S_IOERR;
        }
        MemorySegment segs = MemorySegment.ofArray(gatherReadable(chain, REQUEST_HEADER_SIZE, (int) payload));
        int n = (int) (payload / SEGMENT_SIZE);
        // Validate every segment before acting on any, so a bad list changes nothing.
        for (int i = 0; i < n; i++) {
            long sector = segs.get(U64, i * 16L);
            long sectors = Integer.toUnsignedLong(segs.get(U32, i * 16L + 8));
            int flags = segs.get(U32, i * 16L + 12);
            if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0 || (!writeZeroes && flags != 0)) {
                // §5.2.6.2: unmap on discard, or unknown flags, are unsupported.
                return VIRTIO_BLK_S_UNSUPP;
            }
            if (sectors > maxSectors || !inRange(sector, sectors << SECTOR_SHIFT)) {
                return VIRTIO_BLK_S_IOERR;
            }
        }
        for (int i = 0; i < n; i++) {
            long offset = segs.get(U64, i * 16L) << SECTOR_SHIFT;
            long bytes = Integer.toUnsignedLong(segs.get(U32, i * 16L + 8)) << SECTOR_SHIFT;
            if (bytes == 0) {
                continue;
            }
            if (writeZeroes) {
                boolean unmap = (segs.get(U32, i * 16L + 12) & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0;
                backend.writeZeroes(offset, bytes, unmap);
                stats.writeZeroesBytes.add(bytes);
            } else {
                backend.discard(offset, bytes);
                stats.discardBytes.add(bytes);
            }
        }
        (writeZeroes ? stats.writeZeroes : stats.discards).increment();
        return VIRTIO_BLK_S_OK;
    }

    /** Copies {@code len} device-readable bytes starting at stream offset {@code skip}. */
    private static byte[] gatherReadable(DescriptorChain chain, long skip, int len) {
        byte[] out = new byte[len];
        copyReadable(chain, skip, MemorySegment.ofArray(out));
        return out;
    }

    private static void copyReadable(DescriptorChain chain, long skip, MemorySegment dst) {
        long off = 0;
        long len = dst.byteSize();
        for (int i = 0; i < chain.readableCount() && off < len; i++) {
            MemorySegment b = chain.buffer(i);
            if (skip >= b.byteSize()) {
                skip -= b.byteSize();
                continue;
            }
            long n = Math.min(b.byteSize() - skip, len - off);
            MemorySegment.copy(b, skip, dst, off, n);
            skip = 0;
            off += n;
        }
    }
}
