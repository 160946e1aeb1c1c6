package io.qingtian.network.packet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class FrameParserTest {
    static final MacAddress M1 = MacAddress.parse("02:00:00:00:00:01");
    static final MacAddress M2 = MacAddress.parse("02:00:00:00:00:02");
    static final Ipv4Address A = Ipv4Address.parse("10.0.0.1");
    static final Ipv4Address B = Ipv4Address.parse("10.0.0.2");
    final ParsedFrame p = new ParsedFrame();

    DropReason parse(byte[] f) {
        return FrameParser.parse(f, f.length, p);
    }

    @Test
    void parsesWellFormedFrames() {
        assertThat(parse(Frames.tcp(M1, M2, A, B, 1234, 80, 1, 2, FrameParser.TCP_SYN, new byte[3]))).isNull();
        assertThat(p.srcPort).isEqualTo(1234);
        assertThat(p.dstPort).isEqualTo(80);
        assertThat(p.tcpFlags).isEqualTo(FrameParser.TCP_SYN);
        assertThat(p.payloadLength()).isEqualTo(3);
        assertThat(parse(Frames.udp(M1, M2, A, B, 5, 6, new byte[10]))).isNull();
        assertThat(p.payloadLength()).isEqualTo(10);
        assertThat(parse(Frames.icmpEcho(M1, M2, A, B, 8, 77, 1, new byte[5]))).isNull();
        assertThat(p.srcPort).isEqualTo(77);
        assertThat(parse(Frames.arp(1, M1, MacAddress.BROADCAST, M1, A, MacAddress.ZERO, B))).isNull();
        assertThat(p.arpTargetIp).isEqualTo(B.bits());
        assertThat(p.srcMac).isEqualTo(M1.bits());
    }

    @Test
    void acceptsEthernetPaddingAfterTheIpPacket() {
        byte[] f = Frames.udp(M1, M2, A, B, 5, 6, new byte[0]);
        byte[] padded = java.util.Arrays.copyOf(f, 60);
        assertThat(parse(padded)).isNull();
        assertThat(p.l4Length).isEqualTo(8);
    }

    @Test
    void rejectsStructuralFaults() {
        assertThat(parse(new byte[13])).isEqualTo(DropReason.RUNT);
        assertThat(parse(new byte[1515])).isEqualTo(DropReason.OVERSIZED);
        byte[] v6 = new byte[60];
        Bytes.put16(v6, 12, 0x86dd);
        assertThat(parse(v6)).isEqualTo(DropReason.UNSUPPORTED_ETHERTYPE);
        Bytes.put16(v6, 12, 0x8100);
        assertThat(parse(v6)).isEqualTo(DropReason.VLAN_TAGGED);

        byte[] arp = Frames.arp(1, M1, MacAddress.BROADCAST, M1, A, MacAddress.ZERO, B);
        assertThat(parse(java.util.Arrays.copyOf(arp, 40))).isEqualTo(DropReason.RUNT);
        arp[21] = 9; // opcode 9
        assertThat(parse(arp)).isEqualTo(DropReason.BAD_ARP);

        byte[] ip = Frames.udp(M1, M2, A, B, 5, 6, new byte[4]);
        byte[] badVersion = ip.clone();
        badVersion[14] = 0x65;
        assertThat(parse(badVersion)).isEqualTo(DropReason.BAD_IP_HEADER);
        byte[] badCsum = ip.clone();
        badCsum[14 + 10] ^= 1;
        assertThat(parse(badCsum)).isEqualTo(DropReason.BAD_IP_CHECKSUM);
        byte[] longer = ip.clone();
        Bytes.put16(longer, 16, 200);
        Frames.refreshIpChecksum(longer, 14, 20);
        assertThat(parse(longer)).isEqualTo(DropReason.RUNT);
        byte[] frag = ip.clone();
        Bytes.put16(frag, 20, 0x2000); // MF
        Frames.refreshIpChecksum(frag, 14, 20);
        assertThat(parse(frag)).isEqualTo(DropReason.IP_FRAGMENT);
        byte[] udpLen = ip.clone();
        Bytes.put16(udpLen, 34 + 4, 100);
        assertThat(parse(udpLen)).isEqualTo(DropReason.BAD_L4_HEADER);
        byte[] udpCsum = ip.clone();
        udpCsum[udpCsum.length - 1] ^= 0x55;
        assertThat(parse(udpCsum)).isEqualTo(DropReason.BAD_L4_CHECKSUM);
        byte[] noCsum = udpCsum.clone();
        Bytes.put16(noCsum, 34 + 6, 0); // RFC 768: zero = no checksum
        assertThat(parse(noCsum)).isNull();

        byte[] tcp = Frames.tcp(M1, M2, A, B, 1, 2, 3, 4, FrameParser.TCP_ACK, new byte[4]);
        byte[] tcpCsum = tcp.clone();
        tcpCsum[tcpCsum.length - 1] ^= 1;
        assertThat(parse(tcpCsum)).isEqualTo(DropReason.BAD_L4_CHECKSUM);
        byte[] tcpOff = tcp.clone();
        tcpOff[34 + 12] = (byte) 0xf0; // 60-byte header in a 24-byte segment
        assertThat(parse(tcpOff)).isEqualTo(DropReason.BAD_L4_HEADER);
        byte[] icmp = Frames.icmpEcho(M1, M2, A, B, 8, 1, 1, new byte[4]);
        icmp[icmp.length - 1] ^= 1;
        assertThat(parse(icmp)).isEqualTo(DropReason.BAD_L4_CHECKSUM);
    }

    @Test
    void parsesAndRejectsAddresses() {
        assertThat(Cidr.parse("10.0.1.0/24").contains(Ipv4Address.parse("10.0.1.255"))).isTrue();
        assertThat(Cidr.parse("10.0.1.0/24").contains(Ipv4Address.parse("10.0.2.0"))).isFalse();
        assertThat(Cidr.parse("0.0.0.0/0").contains(Ipv4Address.parse("255.1.2.3"))).isTrue();
        assertThat(Cidr.parse("10.0.0.0/16").contains(Cidr.parse("10.0.7.0/24"))).isTrue();
        assertThat(Cidr.parse("192.168.4.0/22").broadcast()).isEqualTo(Ipv4Address.parse("192.168.7.255"));
        assertThat(MacAddress.parse("52:54:00:AB:cd:01").toString()).isEqualTo("52:54:00:ab:cd:01");
        assertThatThrownBy(() -> Cidr.parse("10.0.1.7/24")).hasMessageContaining("host bits");
        assertThatThrownBy(() -> Cidr.parse("10.0.1.0/33")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Ipv4Address.parse("10.0.1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Ipv4Address.parse("10.0.1.256")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Ipv4Address.parse("1.2.3.-4")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MacAddress.parse("52:54:00:ab:cd")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MacAddress.parse("52:54:00:ab:cd:0g")).isInstanceOf(IllegalArgumentException.class);
    }
}
