package io.qingtian.card.nbd;

/**
 * Constants of the NBD protocol (github.com/NetworkBlockDevice/nbd doc/proto.md), fixed
 * newstyle negotiation and simple replies only.
 */
final class NbdProtocol {
    private NbdProtocol() {}

    // "Newstyle negotiation"
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long REPLY_MAGIC = 0x3e889045565a9L;
    static final int NBD_FLAG_FIXED_NEWSTYLE = 1;
    static final int NBD_FLAG_NO_ZEROES = 2;
    static final int NBD_FLAG_C_FIXED_NEWSTYLE = 1;
    static final int NBD_FLAG_C_NO_ZEROES = 2;

    // "Option types"
    static final int NBD_OPT_ABORT = 2;
    static final int NBD_OPT_GO = 7;

    // "Option reply types"
    static final int NBD_REP_ACK = 1;
    static final int NBD_REP_INFO = 3;
    static final int NBD_REP_FLAG_ERROR = 1 << 31;

    // "Info types"
    static final int NBD_INFO_EXPORT = 0;

    // "Transmission flags"
    static final int NBD_FLAG_HAS_FLAGS = 1;
    static final int NBD_FLAG_READ_ONLY = 1 << 1;
    static final int NBD_FLAG_SEND_FLUSH = 1 << 2;
    static final int NBD_FLAG_SEND_TRIM = 1 << 5;
    static final int NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;

    // "Request message" / "Simple reply message"
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int REQUEST_HEADER = 28;
    static final int REPLY_HEADER = 16;

    // "Request types"
    static final short NBD_CMD_READ = 0;
    static final short NBD_CMD_WRITE = 1;
    static final short NBD_CMD_DISC = 2;
    static final short NBD_CMD_FLUSH = 3;
    static final short NBD_CMD_TRIM = 4;
    static final short NBD_CMD_WRITE_ZEROES = 6;

    // "Command flags"
    static final short NBD_CMD_FLAG_NO_HOLE = 1 << 1;

    /** Servers must accept requests up to 32 MiB (proto.md "Block size constraints"); stay below. */
    static final int MAX_PAYLOAD = 16 << 20;
    /** Lengths are 32-bit; keep zeroing/trimming chunks aligned and well inside. */
    static final long MAX_RANGE = 1L << 30;
}
