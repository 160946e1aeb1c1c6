package io.qingtian.virtio.blk;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The virtio-blk configuration space (virtio 1.2 §5.2.4, struct virtio_blk_config), the
 * fields this device fills in. Offsets are the spec's; fields we do not offer stay zero.
 */
public record BlkConfig(long capacitySectors, int segMax, int blkSize, int numQueues,
                        int maxDiscardSectors, int maxDiscardSeg, int discardSectorAlignment,
                        int maxWriteZeroesSectors, int maxWriteZeroesSeg, boolean writeZeroesMayUnmap) {
    /** Bytes up to and including the secure-erase fields (offset 72); later fields are zoned. */
    public static final int SIZE = 72;

    public static final int OFFSET_CAPACITY = 0;
    public static final int OFFSET_SIZE_MAX = 8;
    public static final int OFFSET_SEG_MAX = 12;
    public static final int OFFSET_BLK_SIZE = 20;
    public static final int OFFSET_WRITEBACK = 32;
    public static final int OFFSET_NUM_QUEUES = 34;
    public static final int OFFSET_MAX_DISCARD_SECTORS = 36;
    public static final int OFFSET_MAX_DISCARD_SEG = 40;
    public static final int OFFSET_DISCARD_SECTOR_ALIGNMENT = 44;
    public static final int OFFSET_MAX_WRITE_ZEROES_SECTORS = 48;
    public static final int OFFSET_MAX_WRITE_ZEROES_SEG = 52;
    public static final int OFFSET_WRITE_ZEROES_MAY_UNMAP = 56;

    /** The little-endian config space image, {@link #SIZE} bytes. */
    public byte[] toBytes() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(OFFSET_CAPACITY, capacitySectors);
        b.putInt(OFFSET_SEG_MAX, segMax);
        b.putInt(OFFSET_BLK_SIZE, blkSize);
        b.putShort(OFFSET_NUM_QUEUES, (short) numQueues);
        b.putInt(OFFSET_MAX_DISCARD_SECTORS, maxDiscardSectors);
        b.putInt(OFFSET_MAX_DISCARD_SEG, maxDiscardSeg);
        b.putInt(OFFSET_DISCARD_SECTOR_ALIGNMENT, discardSectorAlignment);
        b.putInt(OFFSET_MAX_WRITE_ZEROES_SECTORS, maxWriteZeroesSectors);
        b.putInt(OFFSET_MAX_WRITE_ZEROES_SEG, maxWriteZeroesSeg);
        b.put(OFFSET_WRITE_ZEROES_MAY_UNMAP, (byte) (writeZeroesMayUnmap ? 1 : 0));
        return b.array();
    }

    public static BlkConfig fromBytes(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes.length >= SIZE ? bytes : java.util.Arrays.copyOf(bytes, SIZE))
                .order(ByteOrder.LITTLE_ENDIAN);
        return new BlkConfig(b.getLong(OFFSET_CAPACITY), b.getInt(OFFSET_SEG_MAX), b.getInt(OFFSET_BLK_SIZE),
                Short.toUnsignedInt(b.getShort(OFFSET_NUM_QUEUES)), b.getInt(OFFSET_MAX_DISCARD_SECTORS),
                b.getInt(OFFSET_MAX_DISCARD_SEG), b.getInt(OFFSET_DISCARD_SECTOR_ALIGNMENT),
                b.getInt(OFFSET_MAX_WRITE_ZEROES_SECTORS), b.getInt(OFFSET_MAX_WRITE_ZEROES_SEG),
                b.get(OFFSET_WRITE_ZEROES_MAY_UNMAP) != 0);
    }
}
