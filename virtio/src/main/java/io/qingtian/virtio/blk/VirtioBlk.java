package io.qingtian.virtio.blk;

/**
 * virtio-blk constants (virtio 1.2 §5.2): feature bits, request types, status values.
 * Generic transport feature bits (§6) are here too because every device offers them.
 */
public final class VirtioBlk {
    /** virtio device ID of a block device (§5). */
    public static final int DEVICE_ID = 2;
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    // §5.2.3 feature bits
    public static final int VIRTIO_BLK_F_SIZE_MAX = 1;
    public static final int VIRTIO_BLK_F_SEG_MAX = 2;
    public static final int VIRTIO_BLK_F_GEOMETRY = 4;
    public static final int VIRTIO_BLK_F_RO = 5;
    public static final int VIRTIO_BLK_F_BLK_SIZE = 6;
    public static final int VIRTIO_BLK_F_FLUSH = 9;
    public static final int VIRTIO_BLK_F_TOPOLOGY = 10;
    public static final int VIRTIO_BLK_F_CONFIG_WCE = 11;
    public static final int VIRTIO_BLK_F_MQ = 12;
    public static final int VIRTIO_BLK_F_DISCARD = 13;
    public static final int VIRTIO_BLK_F_WRITE_ZEROES = 14;
    // §6 reserved feature bits
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;
    public static final int VIRTIO_F_VERSION_1 = 32;

    // §5.2.6 request types
    public static final int VIRTIO_BLK_T_IN = 0;
    public static final int VIRTIO_BLK_T_OUT = 1;
    public static final int VIRTIO_BLK_T_FLUSH = 4;
    public static final int VIRTIO_BLK_T_GET_ID = 8;
    public static final int VIRTIO_BLK_T_DISCARD = 11;
    public static final int VIRTIO_BLK_T_WRITE_ZEROES = 13;

    // §5.2.6 status
    public static final int VIRTIO_BLK_S_OK = 0;
    public static final int VIRTIO_BLK_S_IOERR = 1;
    public static final int VIRTIO_BLK_S_UNSUPP = 2;

    /** Bytes of the request header: le32 type, le32 reserved, le64 sector. */
    public static final int REQUEST_HEADER_SIZE = 16;
    /** Bytes of one discard/write-zeroes segment: le64 sector, le32 num_sectors, le32 flags. */
    public static final int SEGMENT_SIZE = 16;
    public static final int VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;
    /** GET_ID answers with at most this many bytes (§5.2.6). */
    public static final int ID_BYTES = 20;

    private VirtioBlk() {}

    public static long bit(int feature) {
        return 1L << feature;
    }
}
