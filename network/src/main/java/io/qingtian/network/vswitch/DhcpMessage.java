package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Bytes;

/**
 * The fields of a client DHCP message (RFC 2131 §2) the server uses. {@link #parse} is
 * strict and never throws: a wrong op/htype/hlen, a missing magic cookie, options that run
 * past the datagram or a missing/invalid message type all give null.
 */
record DhcpMessage(int type, int xid, int flags, int ciaddr, long chaddr, int requestedIp, int serverId) {
    static final int BOOTREQUEST = 1;
    static final int BOOTREPLY = 2;
    static final int MAGIC = 0x63825363;
    /** op..file (236 bytes) + magic cookie. */
    static final int FIXED_LEN = 240;

    static final int DISCOVER = 1;
    static final int OFFER = 2;
    static final int REQUEST = 3;
    static final int DECLINE = 4;
    static final int ACK = 5;
    static final int NAK = 6;
    static final int RELEASE = 7;
    static final int INFORM = 8;

    // RFC 2132 option codes.
    static final int OPT_PAD = 0;
    static final int OPT_SUBNET_MASK = 1;
    static final int OPT_ROUTER = 3;
    static final int OPT_DNS = 6;
    static final int OPT_MTU = 26;
    static final int OPT_BROADCAST = 28;
    static final int OPT_REQUESTED_IP = 50;
    static final int OPT_LEASE_TIME = 51;
    static final int OPT_MESSAGE_TYPE = 53;
    static final int OPT_SERVER_ID = 54;
    static final int OPT_RENEWAL = 58;
    static final int OPT_REBINDING = 59;
    static final int OPT_END = 255;

    static DhcpMessage parse(byte[] d, int off, int len) {
        if (len < FIXED_LEN) {
            return null;
        }
        if (Bytes.u8(d, off) != BOOTREQUEST || Bytes.u8(d, off + 1) != 1 || Bytes.u8(d, off + 2) != 6) {
            return null;
        }
        if (Bytes.i32(d, off + 236) != MAGIC) {
            return null;
        }
        int xid = Bytes.i32(d, off + 4);
        int flags = Bytes.u16(d, off + 10);
        int ciaddr = Bytes.i32(d, off + 12);
        long chaddr = Bytes.u48(d, off + 28);
        int type = 0;
        int requested = 0;
        int server = 0;
        int i = off + FIXED_LEN;
        int end = off + len;
        boolean sawEnd = false;
        while (i < end) {
            int code = Bytes.u8(d, i);
            if (code == OPT_PAD) {
                i++;
                continue;
            }
            if (code == OPT_END) {
                sawEnd = true;
                break;
            }
            if (i + 1 >= end) {
                return null;
            }
            int olen = Bytes.u8(d, i + 1);
            int v = i + 2;
            if (v + olen > end) {
                return null;
            }
            switch (code) {
                case OPT_MESSAGE_TYPE -> {
                    if (olen != 1) {
                        return null;
                    }
                    type = Bytes.u8(d, v);
                }
                case OPT_REQUESTED_IP -> {
                    if (olen != 4) {
                        return null;
                    }
                    requested = Bytes.i32(d, v);
                }
                case OPT_SERVER_ID -> {
                    if (olen != 4) {
                        return null;
                    }
                    server = Bytes.i32(d, v);
                }
                default -> { }
            }
            i = v + olen;
        }
        if (!sawEnd || type < DISCOVER || type > INFORM || type == OFFER || type == ACK || type == NAK) {
            return null;
        }
        return new DhcpMessage(type, xid, flags, ciaddr, chaddr, requested, server);
    }
}
