package io.qingtian.vhostuser.protocol;

/** vhost-user wire constants (QEMU docs/interop/vhost-user.rst). */
public final class VhostUser {
    /** Header: u32 request, u32 flags, u32 size. */
    public static final int HEADER_SIZE = 12;
    /** Largest payload this implementation accepts; the largest real one is a memory table. */
    public static final int MAX_PAYLOAD = 4096;

    public static final int FLAG_VERSION = 0x1;
    public static final int FLAG_VERSION_MASK = 0x3;
    public static final int FLAG_REPLY = 0x4;
    public static final int FLAG_NEED_REPLY = 0x8;
    public static final int FLAGS_KNOWN = FLAG_VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY;

    /** Feature bit telling the front-end the back-end speaks protocol features (spec: bit 30). */
    public static final int VHOST_USER_F_PROTOCOL_FEATURES = 30;

    // Protocol feature bits.
    public static final int PROTOCOL_F_MQ = 0;
    public static final int PROTOCOL_F_LOG_SHMFD = 1;
    public static final int PROTOCOL_F_REPLY_ACK = 3;
    public static final int PROTOCOL_F_CONFIG = 9;
    public static final int PROTOCOL_F_INFLIGHT_SHMFD = 12;
    public static final int PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15;

    /** Regions a SET_MEM_TABLE may carry (VHOST_MEMORY_BASELINE_NREGIONS). */
    public static final int MAX_MEM_REGIONS = 8;
    /** SET_VRING_KICK/CALL/ERR u64: low 8 bits the index, bit 8 "no fd" (polling/none). */
    public static final long VRING_INDEX_MASK = 0xFF;
    public static final long VRING_NOFD_MASK = 0x100;
    /** Largest config space exchange (VHOST_USER_MAX_CONFIG_SIZE). */
    public static final int MAX_CONFIG_SIZE = 256;
    public static final int MEM_REGION_SIZE = 32;

    private VhostUser() {}

    public static long bit(int n) {
        return 1L << n;
    }
}
