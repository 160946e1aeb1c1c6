package io.qingtian.network.virtionet;

/**
 * virtio-net constants (virtio 1.2 §5.1): feature bits, header layout and flags, config
 * space layout and status bits.
 */
public final class VirtioNet {
    // §5.1.3 feature bits.
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MTU = 3;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;
    public static final int F_CTRL_VQ = 17;
    public static final int F_RING_INDIRECT_DESC = 28;
    public static final int F_RING_EVENT_IDX = 29;
    public static final int F_VERSION_1 = 32;

    /**
     * What the card offers: a modern device (VERSION_1) with a fixed MAC and link status,
     * mergeable receive buffers, indirect descriptors and event index. No checksum or
     * segmentation offloads: the switch validates and filters complete frames, so guests
     * must send them complete (that is also what keeps security groups exact).
     */
    public static final long OFFERED_FEATURES = bit(F_VERSION_1) | bit(F_MAC) | bit(F_STATUS) | bit(F_MRG_RXBUF)
            | bit(F_MTU) | bit(F_RING_INDIRECT_DESC) | bit(F_RING_EVENT_IDX);

    // §5.1.6 struct virtio_net_hdr.
    /** Header length with VERSION_1 or MRG_RXBUF (num_buffers present). */
    public static final int HDR_LEN = 12;
    public static final int HDR_F_NEEDS_CSUM = 1;
    public static final int HDR_F_DATA_VALID = 2;
    public static final int HDR_F_RSC_INFO = 4;
    public static final int GSO_NONE = 0;
    public static final int HDR_NUM_BUFFERS_OFFSET = 10;

    // §5.1.4 struct virtio_net_config.
    public static final int CONFIG_MAC = 0;
    public static final int CONFIG_STATUS = 6;
    public static final int CONFIG_MAX_VQ_PAIRS = 8;
    public static final int CONFIG_MTU = 10;
    public static final int CONFIG_LEN = 12;
    public static final int S_LINK_UP = 1;

    /** Queue indexes of the single queue pair (§5.1.2). */
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;

    private VirtioNet() {}

    public static long bit(int n) {
        return 1L << n;
    }
}
