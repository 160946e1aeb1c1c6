package io.qingtian.network.packet;

/**
 * Strict validation of frames from untrusted ports. Never throws on any byte content:
 * every structural fault maps to a {@link DropReason}.
 *
 * <p>Checksums are verified for IPv4 headers, TCP, UDP (when non-zero, RFC 768) and ICMP,
 * because the virtio-net device does not offer VIRTIO_NET_F_CSUM: guests must send
 * complete checksums, and a bad one is either corruption or an attack.
 */
public final class FrameParser {
    public static final int ARP_LEN = 28;
    public static final int ARP_REQUEST = 1;
    public static final int ARP_REPLY = 2;

    public static final int ICMP_ECHO_REPLY = 0;
    public static final int ICMP_ECHO_REQUEST = 8;

    public static final int TCP_FIN = 0x01;
    public static final int TCP_SYN = 0x02;
    public static final int TCP_RST = 0x04;
    public static final int TCP_PSH = 0x08;
    public static final int TCP_ACK = 0x10;

    private FrameParser() {}

    /** Parses {@code data[0..length)} into {@code out}; null on success. */
    public static DropReason parse(byte[] data, int length, ParsedFrame out) {
        out.data = data;
        out.length = length;
        if (length < EtherType.HEADER_LEN || length > data.length) {
            return DropReason.RUNT;
        }
        if (length > EtherType.MAX_FRAME) {
            return DropReason.OVERSIZED;
        }
        out.dstMac = Bytes.u48(data, 0);
        out.srcMac = Bytes.u48(data, 6);
        out.etherType = Bytes.u16(data, 12);
        return switch (out.etherType) {
            case EtherType.ARP -> parseArp(data, length, out);
            case EtherType.IPV4 -> parseIpv4(data, length, out);
            case EtherType.VLAN, EtherType.QINQ -> DropReason.VLAN_TAGGED;
            default -> DropReason.UNSUPPORTED_ETHERTYPE;
        };
    }

    private static DropReason parseArp(byte[] d, int length, ParsedFrame out) {
        int o = EtherType.HEADER_LEN;
        if (length < o + ARP_LEN) {
            return DropReason.RUNT;
        }
        // RFC 826: htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
        if (Bytes.u16(d, o) != 1 || Bytes.u16(d, o + 2) != EtherType.IPV4 || Bytes.u8(d, o + 4) != 6
                || Bytes.u8(d, o + 5) != 4) {
            return DropReason.BAD_ARP;
        }
        out.arpOp = Bytes.u16(d, o + 6);
        if (out.arpOp != ARP_REQUEST && out.arpOp != ARP_REPLY) {
            return DropReason.BAD_ARP;
        }
        out.arpSenderMac = Bytes.u48(d, o + 8);
        out.arpSenderIp = Bytes.i32(d, o + 14);
        out.arpTargetMac = Bytes.u48(d, o + 18);
        out.arpTargetIp = Bytes.i32(d, o + 24);
        return null;
    }

    private static DropReason parseIpv4(byte[] d, int length, ParsedFrame out) {
        int o = EtherType.HEADER_LEN;
        if (length < o + 20) {
            return DropReason.RUNT;
        }
        int verIhl = Bytes.u8(d, o);
        int ihl = (verIhl & 0x0f) * 4;
        if ((verIhl >>> 4) != 4 || ihl < 20) {
            return DropReason.BAD_IP_HEADER;
        }
        int total = Bytes.u16(d, o + 2);
        if (total < ihl || o + ihl > length) {
            return DropReason.BAD_IP_HEADER;
        }
        if (o + total > length) {
            return DropReason.RUNT;
        }
        if (Checksum.compute(d, o, ihl) != 0) {
            return DropReason.BAD_IP_CHECKSUM;
        }
        int flagsFrag = Bytes.u16(d, o + 6);
        // MF set or a non-zero offset: a fragment (RFC 791 §3.1). DF alone is fine.
        if ((flagsFrag & 0x3fff) != 0) {
            return DropReason.IP_FRAGMENT;
        }
        out.ipOffset = o;
        out.ipHeaderLength = ihl;
        out.ipTotalLength = total;
        out.ttl = Bytes.u8(d, o + 8);
        out.protocol = Bytes.u8(d, o + 9);
        out.srcIp = Bytes.i32(d, o + 12);
        out.dstIp = Bytes.i32(d, o + 16);
        out.l4Offset = o + ihl;
        out.l4Length = total - ihl;
        out.srcPort = 0;
        out.dstPort = 0;
        out.tcpFlags = 0;
        out.icmpType = 0;
        out.icmpCode = 0;
        return switch (out.protocol) {
            case IpProto.UDP -> parseUdp(d, out);
            case IpProto.TCP -> parseTcp(d, out);
            case IpProto.ICMP -> parseIcmp(d, out);
            default -> null; // other protocols pass validation; security groups decide.
        };
    }

    private static DropReason parseUdp(byte[] d, ParsedFrame out) {
        int o = out.l4Offset;
        if (out.l4Length < 8) {
            return DropReason.RUNT;
        }
        int udpLen = Bytes.u16(d, o + 4);
        if (udpLen < 8 || udpLen > out.l4Length) {
            return DropReason.BAD_L4_HEADER;
        }
        // Trailing bytes after the UDP datagram inside the IP packet are not meaningful.
        out.l4Length = udpLen;
        if (Bytes.u16(d, o + 6) != 0
                && Checksum.l4(d, o, udpLen, out.srcIp, out.dstIp, IpProto.UDP) != 0) {
            return DropReason.BAD_L4_CHECKSUM;
        }
        out.srcPort = Bytes.u16(d, o);
        out.dstPort = Bytes.u16(d, o + 2);
        return null;
    }

    private static DropReason parseTcp(byte[] d, ParsedFrame out) {
        int o = out.l4Offset;
        if (out.l4Length < 20) {
            return DropReason.RUNT;
        }
        int dataOff = (Bytes.u8(d, o + 12) >>> 4) * 4;
        if (dataOff < 20 || dataOff > out.l4Length) {
            return DropReason.BAD_L4_HEADER;
        }
        if (Checksum.l4(d, o, out.l4Length, out.srcIp, out.dstIp, IpProto.TCP) != 0) {
            return DropReason.BAD_L4_CHECKSUM;
        }
        out.srcPort = Bytes.u16(d, o);
        out.dstPort = Bytes.u16(d, o + 2);
        out.tcpFlags = Bytes.u8(d, o + 13) & 0x3f;
        return null;
    }

    private static DropReason parseIcmp(byte[] d, ParsedFrame out) {
        int o = out.l4Offset;
        if (out.l4Length < 8) {
            return DropReason.RUNT;
        }
        if (Checksum.compute(d, o, out.l4Length) != 0) {
            return DropReason.BAD_L4_CHECKSUM;
        }
        out.icmpType = Bytes.u8(d, o);
        out.icmpCode = Bytes.u8(d, o + 1);
        if (out.icmpType == ICMP_ECHO_REQUEST || out.icmpType == ICMP_ECHO_REPLY) {
            // The echo identifier plays the role of a port for connection tracking.
            int id = Bytes.u16(d, o + 4);
            out.srcPort = id;
            out.dstPort = id;
        }
        return null;
    }
}
