package io.qingtian.network.packet;

/**
 * Builds complete, checksummed Ethernet frames: the switch's own replies (ARP, DHCP, ICMP,
 * metadata HTTP) and test traffic.
 */
public final class Frames {
    private static final int IP = EtherType.HEADER_LEN;

    private Frames() {}

    public static byte[] arp(int op, MacAddress ethSrc, MacAddress ethDst, MacAddress senderMac, Ipv4Address senderIp,
                             MacAddress targetMac, Ipv4Address targetIp) {
        byte[] f = new byte[EtherType.HEADER_LEN + FrameParser.ARP_LEN];
        ethDst.write(f, 0);
        ethSrc.write(f, 6);
        Bytes.put16(f, 12, EtherType.ARP);
        Bytes.put16(f, 14, 1);
        Bytes.put16(f, 16, EtherType.IPV4);
        f[18] = 6;
        f[19] = 4;
        Bytes.put16(f, 20, op);
        senderMac.write(f, 22);
        senderIp.write(f, 28);
        targetMac.write(f, 32);
        targetIp.write(f, 38);
        return f;
    }

    /** An IPv4 frame around an already built L4 segment; fills the TCP/UDP checksum if asked. */
    public static byte[] ipv4(MacAddress ethSrc, MacAddress ethDst, Ipv4Address src, Ipv4Address dst, int proto,
                              int ttl, byte[] l4, int l4Len) {
        byte[] f = new byte[IP + 20 + l4Len];
        ethDst.write(f, 0);
        ethSrc.write(f, 6);
        Bytes.put16(f, 12, EtherType.IPV4);
        f[IP] = 0x45;
        Bytes.put16(f, IP + 2, 20 + l4Len);
        Bytes.put16(f, IP + 6, 0x4000); // DF
        f[IP + 8] = (byte) ttl;
        f[IP + 9] = (byte) proto;
        src.write(f, IP + 12);
        dst.write(f, IP + 16);
        Bytes.put16(f, IP + 10, Checksum.compute(f, IP, 20));
        System.arraycopy(l4, 0, f, IP + 20, l4Len);
        int l4Off = IP + 20;
        switch (proto) {
            case IpProto.UDP -> {
                Bytes.put16(f, l4Off + 6, 0);
                int c = Checksum.l4(f, l4Off, l4Len, src.bits(), dst.bits(), proto);
                Bytes.put16(f, l4Off + 6, c == 0 ? 0xffff : c);
            }
            case IpProto.TCP -> {
                Bytes.put16(f, l4Off + 16, 0);
                Bytes.put16(f, l4Off + 16, Checksum.l4(f, l4Off, l4Len, src.bits(), dst.bits(), proto));
            }
            case IpProto.ICMP -> {
                Bytes.put16(f, l4Off + 2, 0);
                Bytes.put16(f, l4Off + 2, Checksum.compute(f, l4Off, l4Len));
            }
            default -> { }
        }
        return f;
    }

    public static byte[] udp(MacAddress ethSrc, MacAddress ethDst, Ipv4Address src, Ipv4Address dst, int srcPort,
                             int dstPort, byte[] payload) {
        byte[] l4 = new byte[8 + payload.length];
        Bytes.put16(l4, 0, srcPort);
        Bytes.put16(l4, 2, dstPort);
        Bytes.put16(l4, 4, l4.length);
        System.arraycopy(payload, 0, l4, 8, payload.length);
        return ipv4(ethSrc, ethDst, src, dst, IpProto.UDP, 64, l4, l4.length);
    }

    public static byte[] tcp(MacAddress ethSrc, MacAddress ethDst, Ipv4Address src, Ipv4Address dst, int srcPort,
                             int dstPort, long seq, long ack, int flags, byte[] payload) {
        byte[] l4 = new byte[20 + payload.length];
        Bytes.put16(l4, 0, srcPort);
        Bytes.put16(l4, 2, dstPort);
        Bytes.put32(l4, 4, (int) seq);
        Bytes.put32(l4, 8, (int) ack);
        l4[12] = 0x50;
        l4[13] = (byte) flags;
        Bytes.put16(l4, 14, 65535);
        System.arraycopy(payload, 0, l4, 20, payload.length);
        return ipv4(ethSrc, ethDst, src, dst, IpProto.TCP, 64, l4, l4.length);
    }

    public static byte[] icmpEcho(MacAddress ethSrc, MacAddress ethDst, Ipv4Address src, Ipv4Address dst, int type,
                                  int id, int seq, byte[] payload) {
        byte[] l4 = new byte[8 + payload.length];
        l4[0] = (byte) type;
        Bytes.put16(l4, 4, id);
        Bytes.put16(l4, 6, seq);
        System.arraycopy(payload, 0, l4, 8, payload.length);
        return ipv4(ethSrc, ethDst, src, dst, IpProto.ICMP, 64, l4, l4.length);
    }

    /** Recomputes the IPv4 header checksum after a header field (TTL) changed. */
    public static void refreshIpChecksum(byte[] f, int ipOff, int ihl) {
        Bytes.put16(f, ipOff + 10, 0);
        Bytes.put16(f, ipOff + 10, Checksum.compute(f, ipOff, ihl));
    }
}
