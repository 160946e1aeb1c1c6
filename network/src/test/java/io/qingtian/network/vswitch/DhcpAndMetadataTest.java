package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Bytes;
import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.IpProto;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DhcpAndMetadataTest {
    VirtualSwitch sw;
    TestNic a;

    @BeforeEach
    void setUp() {
        sw = new VirtualSwitch(() -> 5L, RandomGenerator.of("L64X128MixRandom"), 1024);
        sw.createVpc("blue", Cidr.parse("10.0.0.0/16"), "acme");
        sw.createSubnet("blue-a", "blue", Cidr.parse("10.0.1.0/24"), null, Ipv4Address.parse("10.0.0.2"));
        a = new TestNic(sw, sw.createPort("a", "blue-a", Ipv4Address.parse("10.0.1.10"), null, List.of(), "i-123"));
    }

    static byte[] dhcp(MacAddress chaddr, int type, int xid, Ipv4Address requested, Ipv4Address server) {
        byte[] p = new byte[300];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        Bytes.put32(p, 4, xid);
        chaddr.write(p, 28);
        Bytes.put32(p, 236, 0x63825363);
        int o = 240;
        p[o++] = 53;
        p[o++] = 1;
        p[o++] = (byte) type;
        if (requested != null) {
            p[o++] = 50;
            p[o++] = 4;
            requested.write(p, o);
            o += 4;
        }
        if (server != null) {
            p[o++] = 54;
            p[o++] = 4;
            server.write(p, o);
            o += 4;
        }
        p[o] = (byte) 255;
        return p;
    }

    byte[] dhcpFrame(byte[] payload) {
        return Frames.udp(a.mac(), MacAddress.BROADCAST, Ipv4Address.ANY, Ipv4Address.BROADCAST, 68, 67, payload);
    }

    /** Option code → value of the reply's options. */
    static Map<Integer, byte[]> options(ParsedFrame p) {
        Map<Integer, byte[]> m = new HashMap<>();
        int i = p.payloadOffset() + 240;
        while (p.data[i] != (byte) 255) {
            int code = p.data[i] & 0xff;
            int len = p.data[i + 1] & 0xff;
            byte[] v = new byte[len];
            System.arraycopy(p.data, i + 2, v, 0, len);
            m.put(code, v);
            i += 2 + len;
        }
        return m;
    }

    @Test
    void handsOutTheAssignedAddress() {
        a.send(dhcpFrame(dhcp(a.mac(), DhcpMessage.DISCOVER, 0x1234, null, null)));
        ParsedFrame offer = a.last();
        assertThat(offer.protocol).isEqualTo(IpProto.UDP);
        assertThat(offer.srcPort).isEqualTo(67);
        assertThat(offer.dstPort).isEqualTo(68);
        int base = offer.payloadOffset();
        assertThat(Bytes.u8(offer.data, base)).isEqualTo(2);
        assertThat(Bytes.i32(offer.data, base + 4)).isEqualTo(0x1234);
        assertThat(Bytes.i32(offer.data, base + 16)).isEqualTo(a.ip().bits());
        Map<Integer, byte[]> o = options(offer);
        assertThat(o.get(53)).containsExactly(DhcpMessage.OFFER);
        assertThat(Ipv4Address.read(o.get(1), 0)).isEqualTo(Ipv4Address.parse("255.255.255.0"));
        assertThat(Ipv4Address.read(o.get(3), 0)).isEqualTo(Ipv4Address.parse("10.0.1.1"));
        assertThat(Ipv4Address.read(o.get(54), 0)).isEqualTo(Ipv4Address.parse("10.0.1.1"));
        assertThat(Ipv4Address.read(o.get(6), 0)).isEqualTo(Ipv4Address.parse("10.0.0.2"));
        assertThat(Bytes.i32(o.get(51), 0)).isEqualTo(86400);

        a.send(dhcpFrame(dhcp(a.mac(), DhcpMessage.REQUEST, 0x1235, a.ip(), Ipv4Address.parse("10.0.1.1"))));
        assertThat(options(a.last()).get(53)).containsExactly(DhcpMessage.ACK);
        a.send(dhcpFrame(dhcp(a.mac(), DhcpMessage.REQUEST, 0x1236, Ipv4Address.parse("10.0.1.99"), null)));
        assertThat(options(a.last()).get(53)).containsExactly(DhcpMessage.NAK);
        assertThat(a.last().dstIp).isEqualTo(-1);
        // A request for another server is not ours to answer.
        int n = a.received.size();
        a.send(dhcpFrame(dhcp(a.mac(), DhcpMessage.REQUEST, 0x1237, a.ip(), Ipv4Address.parse("10.0.1.254"))));
        assertThat(a.received).hasSize(n);
        assertThat(sw.stats("a").totalDrops()).isZero();
    }

    @Test
    void dropsMalformedOrSpoofedDhcp() {
        byte[] good = dhcp(a.mac(), DhcpMessage.DISCOVER, 1, null, null);
        byte[] badCookie = good.clone();
        badCookie[236] = 0;
        byte[] overrun = good.clone();
        overrun[241] = (byte) 200; // option length past the end
        byte[] noType = dhcp(a.mac(), DhcpMessage.DISCOVER, 1, null, null);
        noType[240] = 12; // hostname instead of message type
        byte[] foreign = dhcp(MacAddress.parse("02:11:22:33:44:55"), DhcpMessage.DISCOVER, 1, null, null);
        byte[] shortMsg = new byte[100];
        byte[] serverType = dhcp(a.mac(), DhcpMessage.OFFER, 1, null, null);
        for (byte[] p : List.of(badCookie, overrun, noType, foreign, shortMsg, serverType)) {
            a.send(dhcpFrame(p));
        }
        assertThat(a.received).isEmpty();
        assertThat(sw.stats("a").drops(DropReason.BAD_DHCP)).isEqualTo(6);
    }

    /** A minimal guest TCP client: connect, send the request, collect the response. */
    String httpGet(String path, int srcPort) {
        long seq = 7000;
        Ipv4Address md = Ipv4Address.METADATA;
        a.send(Frames.tcp(a.mac(), a.gwMac(), a.ip(), md, srcPort, 80, seq, 0, FrameParser.TCP_SYN, new byte[0]));
        ParsedFrame synAck = a.last();
        assertThat(synAck.tcpFlags).isEqualTo(FrameParser.TCP_SYN | FrameParser.TCP_ACK);
        assertThat(synAck.srcIp).isEqualTo(md.bits());
        long serverSeq = (Bytes.i32(synAck.data, synAck.l4Offset + 4) & 0xffffffffL) + 1;
        assertThat(Bytes.i32(synAck.data, synAck.l4Offset + 8) & 0xffffffffL).isEqualTo(seq + 1);
        seq++;
        byte[] req = ("GET " + path + " HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        int before = a.received.size();
        a.send(Frames.tcp(a.mac(), a.gwMac(), a.ip(), md, srcPort, 80, seq, serverSeq,
                FrameParser.TCP_ACK | FrameParser.TCP_PSH, req));
        seq += req.length;
        StringBuilder body = new StringBuilder();
        boolean fin = false;
        for (byte[] f : a.received.subList(before, a.received.size())) {
            ParsedFrame p = new ParsedFrame();
            assertThat(FrameParser.parse(f, f.length, p)).isNull();
            assertThat(Bytes.i32(f, p.l4Offset + 8) & 0xffffffffL).isEqualTo(seq);
            body.append(new String(f, p.payloadOffset(), p.payloadLength(), StandardCharsets.UTF_8));
            fin |= (p.tcpFlags & FrameParser.TCP_FIN) != 0;
            serverSeq += p.payloadLength();
        }
        assertThat(fin).isTrue();
        serverSeq++;
        a.send(Frames.tcp(a.mac(), a.gwMac(), a.ip(), md, srcPort, 80, seq, serverSeq,
                FrameParser.TCP_ACK | FrameParser.TCP_FIN, new byte[0]));
        ParsedFrame lastAck = a.last();
        assertThat(lastAck.tcpFlags).isEqualTo(FrameParser.TCP_ACK);
        assertThat(Bytes.i32(lastAck.data, lastAck.l4Offset + 8) & 0xffffffffL).isEqualTo(seq + 1);
        return body.toString();
    }

    @Test
    void metadataAnswersWithThePortsIdentity() {
        String r = httpGet("/latest/meta-data/instance-id", 40001);
        assertThat(r).startsWith("HTTP/1.0 200 OK").endsWith("\r\n\r\ni-123");
        String doc = httpGet("/latest/dynamic/instance-identity/document", 40002);
        assertThat(doc).contains("\"instanceId\": \"i-123\"", "\"tenant\": \"acme\"", "\"vpc\": \"blue\"",
                "\"privateIp\": \"10.0.1.10\"", "\"mac\": \"" + a.mac() + "\"");
        assertThat(httpGet("/nope", 40003)).startsWith("HTTP/1.0 404");
        assertThat(sw.stats("a").totalDrops()).isZero();
    }

    @Test
    void metadataRejectsOtherPortsAndProtocols() {
        Ipv4Address md = Ipv4Address.METADATA;
        a.send(Frames.tcp(a.mac(), a.gwMac(), a.ip(), md, 40000, 443, 1, 0, FrameParser.TCP_SYN, new byte[0]));
        assertThat(a.last().tcpFlags & FrameParser.TCP_RST).isNotZero();
        a.send(Frames.udp(a.mac(), a.gwMac(), a.ip(), md, 40000, 80, new byte[4]));
        assertThat(sw.stats("a").drops(DropReason.METADATA_REJECTED)).isEqualTo(1);
        // Data on an unknown connection is reset, not answered.
        a.send(Frames.tcp(a.mac(), a.gwMac(), a.ip(), md, 40009, 80, 1, 1, FrameParser.TCP_ACK, new byte[] {'G'}));
        assertThat(a.last().tcpFlags & FrameParser.TCP_RST).isNotZero();
    }
}
