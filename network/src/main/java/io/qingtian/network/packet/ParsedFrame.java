package io.qingtian.network.packet;

/**
 * The result of validating one Ethernet frame: offsets and header fields the switch needs.
 * Mutable and reused by one switch thread so the forwarding path allocates nothing;
 * {@link FrameParser#parse} fills it or returns a {@link DropReason}.
 */
public final class ParsedFrame {
    public byte[] data;
    public int length;
    public long dstMac;
    public long srcMac;
    public int etherType;

    // ARP (RFC 826), valid when etherType == ARP.
    public int arpOp;
    public long arpSenderMac;
    public int arpSenderIp;
    public long arpTargetMac;
    public int arpTargetIp;

    // IPv4 (RFC 791), valid when etherType == IPV4.
    public int ipOffset;
    public int ipHeaderLength;
    public int ipTotalLength;
    public int ttl;
    public int protocol;
    public int srcIp;
    public int dstIp;

    // L4, valid for TCP/UDP/ICMP.
    public int l4Offset;
    public int l4Length;
    /** TCP/UDP ports; for ICMP echo the identifier is in both (so flows can be tracked). */
    public int srcPort;
    public int dstPort;
    public int tcpFlags;
    public int icmpType;
    public int icmpCode;

    public boolean isArp() {
        return etherType == EtherType.ARP;
    }

    public boolean isIpv4() {
        return etherType == EtherType.IPV4;
    }

    /** Offset of the UDP/TCP payload. */
    public int payloadOffset() {
        return switch (protocol) {
            case IpProto.UDP -> l4Offset + 8;
            case IpProto.TCP -> l4Offset + ((data[l4Offset + 12] & 0xf0) >>> 2);
            default -> l4Offset;
        };
    }

    public int payloadLength() {
        return l4Offset + l4Length - payloadOffset();
    }
}
