package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.network.NetworkException;
import io.qingtian.network.packet.Bytes;
import io.qingtian.network.packet.Checksum;
import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.IpProto;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.util.List;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class VirtualSwitchTest {
    long now = 1_000_000_000L;
    VirtualSwitch sw;
    TestNic a;
    TestNic b;
    TestNic c; // other subnet, same VPC

    @BeforeEach
    void setUp() {
        sw = new VirtualSwitch(() -> now, RandomGenerator.of("L64X128MixRandom"), 64);
        sw.createVpc("blue", Cidr.parse("10.0.0.0/16"), "acme");
        sw.createSubnet("blue-a", "blue", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSubnet("blue-b", "blue", Cidr.parse("10.0.2.0/24"), null, null);
        sw.createSecurityGroup("web");
        sw.addRule("web", SecurityRule.of("icmp", null, "10.0.0.0/16"));
        a = new TestNic(sw, sw.createPort("a", "blue-a", Ipv4Address.parse("10.0.1.10"), null, List.of("web"), "i-a"));
        b = new TestNic(sw, sw.createPort("b", "blue-a", Ipv4Address.parse("10.0.1.11"), null, List.of("web"), "i-b"));
        c = new TestNic(sw, sw.createPort("c", "blue-b", null, null, List.of("web"), "i-c"));
    }

    @Test
    void allocatesFirstFreeHostAfterGateway() {
        assertThat(c.ip()).isEqualTo(Ipv4Address.parse("10.0.2.2"));
        assertThat(sw.subnet("blue-b").gateway()).isEqualTo(Ipv4Address.parse("10.0.2.1"));
    }

    @Test
    void answersArpForGatewayAndPeers() {
        a.send(Frames.arp(FrameParser.ARP_REQUEST, a.mac(), MacAddress.BROADCAST, a.mac(), a.ip(), MacAddress.ZERO,
                Ipv4Address.parse("10.0.1.1")));
        ParsedFrame r = a.last();
        assertThat(r.arpOp).isEqualTo(FrameParser.ARP_REPLY);
        assertThat(r.arpSenderMac).isEqualTo(a.gwMac().bits());
        assertThat(r.arpSenderIp).isEqualTo(Ipv4Address.parse("10.0.1.1").bits());
        assertThat(r.dstMac).isEqualTo(a.mac().bits());

        a.send(Frames.arp(FrameParser.ARP_REQUEST, a.mac(), MacAddress.BROADCAST, a.mac(), a.ip(), MacAddress.ZERO,
                b.ip()));
        assertThat(a.last().arpSenderMac).isEqualTo(b.mac().bits());
        assertThat(b.received).as("ARP is answered by the switch, never flooded").isEmpty();

        // Nobody owns .99 and a port in another subnet is not on-link: no answer.
        int before = a.received.size();
        a.send(Frames.arp(FrameParser.ARP_REQUEST, a.mac(), MacAddress.BROADCAST, a.mac(), a.ip(), MacAddress.ZERO,
                Ipv4Address.parse("10.0.1.99")));
        a.send(Frames.arp(FrameParser.ARP_REQUEST, a.mac(), MacAddress.BROADCAST, a.mac(), a.ip(), MacAddress.ZERO,
                c.ip()));
        assertThat(a.received).hasSize(before);
        assertThat(sw.stats("a").drops(DropReason.UNKNOWN_DESTINATION)).isEqualTo(2);
    }

    @Test
    void dropsSpoofedSources() {
        byte[] f = Frames.icmpEcho(MacAddress.parse("02:00:00:00:00:99"), b.mac(), a.ip(), b.ip(), 8, 1, 1, new byte[0]);
        a.send(f);
        byte[] g = Frames.icmpEcho(a.mac(), b.mac(), Ipv4Address.parse("10.0.1.77"), b.ip(), 8, 1, 1, new byte[0]);
        a.send(g);
        // ARP claiming b's IP (cache poisoning) and ARP with a foreign sender MAC.
        a.send(Frames.arp(FrameParser.ARP_REPLY, a.mac(), MacAddress.BROADCAST, a.mac(), b.ip(), MacAddress.ZERO,
                b.ip()));
        a.send(Frames.arp(FrameParser.ARP_REQUEST, a.mac(), MacAddress.BROADCAST, b.mac(), a.ip(), MacAddress.ZERO,
                b.ip()));
        assertThat(b.received).isEmpty();
        PortStats s = sw.stats("a");
        assertThat(s.drops(DropReason.SPOOFED_MAC)).isEqualTo(2);
        assertThat(s.drops(DropReason.SPOOFED_IP)).isEqualTo(2);
        assertThat(s.rxPackets()).isEqualTo(4);
    }

    @Test
    void switchesWithinSubnetAndCounts() {
        a.sendIcmp(b, FrameParser.ICMP_ECHO_REQUEST, 7);
        assertThat(b.received).hasSize(1);
        ParsedFrame p = b.last();
        assertThat(p.srcMac).isEqualTo(a.mac().bits());
        assertThat(p.ttl).as("no TTL change within a subnet").isEqualTo(64);
        b.sendIcmp(a, FrameParser.ICMP_ECHO_REPLY, 7);
        assertThat(a.received).hasSize(1);
        PortStats sa = sw.stats("a");
        assertThat(sa.rxPackets()).isEqualTo(1);
        assertThat(sa.txPackets()).isEqualTo(1);
        assertThat(sa.rxBytes()).isEqualTo(b.received.getFirst().length);
        assertThat(sa.totalDrops()).isZero();
    }

    @Test
    void routesBetweenSubnetsRewritingMacsAndTtl() {
        a.sendIcmp(c, FrameParser.ICMP_ECHO_REQUEST, 3);
        assertThat(c.received).hasSize(1);
        ParsedFrame p = c.last();
        assertThat(p.srcMac).isEqualTo(c.gwMac().bits());
        assertThat(p.dstMac).isEqualTo(c.mac().bits());
        assertThat(p.ttl).isEqualTo(63);
        assertThat(Checksum.compute(p.data, p.ipOffset, p.ipHeaderLength)).isZero();
        assertThat(p.srcIp).isEqualTo(a.ip().bits());
    }

    @Test
    void dropsTtlExpiryAndOffSubnetFramesNotSentToRouter() {
        byte[] f = Frames.icmpEcho(a.mac(), a.gwMac(), a.ip(), c.ip(), 8, 1, 1, new byte[0]);
        f[14 + 8] = 1;
        Frames.refreshIpChecksum(f, 14, 20);
        a.send(f);
        a.send(Frames.icmpEcho(a.mac(), b.mac(), a.ip(), c.ip(), 8, 1, 1, new byte[0]));
        assertThat(c.received).isEmpty();
        assertThat(sw.stats("a").drops(DropReason.TTL_EXCEEDED)).isEqualTo(1);
        assertThat(sw.stats("a").drops(DropReason.NO_ROUTE)).isEqualTo(1);
    }

    @Test
    void answersPingToGateway() {
        a.send(Frames.icmpEcho(a.mac(), a.gwMac(), a.ip(), Ipv4Address.parse("10.0.1.1"), 8, 42, 5, new byte[] {9}));
        ParsedFrame r = a.last();
        assertThat(r.protocol).isEqualTo(IpProto.ICMP);
        assertThat(r.icmpType).isEqualTo(FrameParser.ICMP_ECHO_REPLY);
        assertThat(r.srcPort).isEqualTo(42);
        assertThat(r.srcIp).isEqualTo(Ipv4Address.parse("10.0.1.1").bits());
    }

    @Test
    void neverCrossesVpcsEvenWithIdenticalAddresses() {
        sw.createVpc("red", Cidr.parse("10.0.0.0/16"), "evil");
        sw.createSubnet("red-a", "red", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("open");
        sw.addRule("open", SecurityRule.of("icmp", null, "0.0.0.0/0"));
        sw.addRule("open", SecurityRule.of("tcp", "0-65535", "0.0.0.0/0"));
        TestNic ra = new TestNic(sw, sw.createPort("ra", "red-a", Ipv4Address.parse("10.0.1.10"), null,
                List.of("open"), null));
        TestNic rb = new TestNic(sw, sw.createPort("rb", "red-a", Ipv4Address.parse("10.0.1.11"), null,
                List.of("open"), null));
        // Same IP as blue b, addressed at L2 to blue b's MAC, routed via gateway, broadcast: nothing arrives.
        ra.send(Frames.icmpEcho(ra.mac(), b.mac(), ra.ip(), b.ip(), 8, 1, 1, new byte[0]));
        ra.sendIcmp(b, 8, 1);
        ra.send(Frames.icmpEcho(ra.mac(), MacAddress.BROADCAST, ra.ip(), b.ip(), 8, 1, 1, new byte[0]));
        ra.send(Frames.icmpEcho(ra.mac(), ra.gwMac(), ra.ip(), c.ip(), 8, 1, 1, new byte[0]));
        ra.send(Frames.arp(FrameParser.ARP_REQUEST, ra.mac(), MacAddress.BROADCAST, ra.mac(), ra.ip(),
                MacAddress.ZERO, Ipv4Address.parse("10.0.1.11")));
        assertThat(ra.last().arpSenderMac).as("ARP answers with red's port").isEqualTo(rb.mac().bits());
        assertThat(a.received).isEmpty();
        assertThat(b.received).isEmpty();
        assertThat(c.received).isEmpty();
        // Red's own b (same IP as blue's b) got the broadcast-MAC flood and the unicast-to-unknown flood.
        assertThat(rb.received).isNotEmpty();
        rb.received.forEach(f -> assertThat(Bytes.u16(f, 12)).isEqualTo(0x0800));
        // And the reverse direction.
        b.sendIcmp(a, 8, 2);
        assertThat(ra.received.stream().filter(f -> Bytes.u16(f, 12) == 0x0800)).isEmpty();
    }

    @Test
    void defaultDenyIngressButRepliesOfEgressPass() {
        sw.createPort("d", "blue-a", Ipv4Address.parse("10.0.1.20"), null, List.of(), null);
        TestNic d = new TestNic(sw, sw.port("d"));
        a.sendTcp(d, 40000, 22, FrameParser.TCP_SYN);
        assertThat(d.received).isEmpty();
        assertThat(sw.stats("d").drops(DropReason.SECURITY_GROUP)).isEqualTo(1);
        // d connects out to a (a allows only icmp...) so add tcp to web for a.
        sw.addRule("web", SecurityRule.of("tcp", "80", "10.0.1.0/24"));
        d.sendTcp(a, 50000, 80, FrameParser.TCP_SYN);
        assertThat(a.received).hasSize(1);
        a.sendTcp(d, 80, 50000, FrameParser.TCP_SYN | FrameParser.TCP_ACK);
        assertThat(d.received).as("reply of d's own connection passes d's default deny").hasSize(1);
        // a different source port is a new flow, denied.
        a.sendTcp(d, 81, 50000, FrameParser.TCP_ACK);
        assertThat(d.received).hasSize(1);
    }

    @Test
    void ruleChangesApplyToNewFlowsAtRuntime() {
        b.sendTcp(a, 33000, 8080, FrameParser.TCP_SYN);
        assertThat(a.tcpTo(8080)).isZero();
        sw.addRule("web", SecurityRule.of("tcp", "8000-8100", "10.0.1.11/32"));
        b.sendTcp(a, 33000, 8080, FrameParser.TCP_SYN);
        assertThat(a.tcpTo(8080)).isEqualTo(1);
        a.sendTcp(b, 8080, 33000, FrameParser.TCP_SYN | FrameParser.TCP_ACK);
        assertThat(b.tcpTo(33000)).isEqualTo(1);
        // Removing the rule keeps the established flow, blocks a new one.
        sw.removeRule("web", SecurityRule.of("tcp", "8000-8100", "10.0.1.11/32"));
        b.sendTcp(a, 33000, 8080, FrameParser.TCP_ACK);
        assertThat(a.tcpTo(8080)).isEqualTo(2);
        b.sendTcp(a, 33001, 8080, FrameParser.TCP_SYN);
        assertThat(a.tcpTo(8080)).isEqualTo(2);
        // Source CIDR matters: c (10.0.2.x) is not 10.0.1.11/32.
        sw.addRule("web", SecurityRule.of("tcp", "8000-8100", "10.0.1.11/32"));
        c.sendTcp(a, 33002, 8080, FrameParser.TCP_SYN);
        assertThat(a.tcpTo(8080)).isEqualTo(2);
        assertThat(sw.stats("a").drops(DropReason.SECURITY_GROUP)).isEqualTo(3);
    }

    @Test
    void trackedFlowsExpireWhenIdle() {
        sw.addRule("web", SecurityRule.of("udp", "53", "10.0.0.0/16"));
        b.sendUdp(a, 5000, 53, new byte[] {1});
        sw.removeRule("web", SecurityRule.of("udp", "53", "10.0.0.0/16"));
        b.sendUdp(a, 5000, 53, new byte[] {2});
        assertThat(a.received).hasSize(2);
        now += ConnTrack.OTHER_IDLE_NANOS + 1;
        b.sendUdp(a, 5000, 53, new byte[] {3});
        assertThat(a.received).hasSize(2);
    }

    @Test
    void fullConnectionTableDropsNewFlowsOnly() {
        sw.addRule("web", SecurityRule.of("udp", "1-65535", "10.0.0.0/16"));
        for (int i = 0; i < 64; i++) {
            b.sendUdp(a, 1000 + i, 9, new byte[0]);
        }
        int got = a.received.size();
        b.sendUdp(a, 5000, 9, new byte[0]);
        assertThat(a.received).hasSize(got);
        assertThat(sw.stats("a").drops(DropReason.CONNTRACK_FULL) + sw.stats("b").drops(DropReason.CONNTRACK_FULL))
                .isEqualTo(1);
        b.sendUdp(a, 1000, 9, new byte[0]);
        assertThat(a.received).hasSize(got + 1);
    }

    @Test
    void learnsMacsAndFloodsUnknownUnicastWithinSubnetOnly() {
        TestNic d = new TestNic(sw, sw.createPort("d", "blue-a", null, null, List.of("web"), null));
        // b has not sent anything yet: its MAC is unknown, the frame is flooded to b and d.
        a.sendIcmp(b, 8, 1);
        assertThat(b.received).hasSize(1);
        assertThat(d.received).hasSize(1);
        assertThat(c.received).isEmpty();
        b.sendIcmp(a, 0, 1);
        a.sendIcmp(b, 8, 2);
        assertThat(b.received).hasSize(2);
        assertThat(d.received).as("learned: no more flooding").hasSize(1);
        // A deleted port is forgotten.
        sw.deletePort("b");
        a.sendIcmp(b, 8, 3);
        assertThat(b.received).hasSize(2);
    }

    @Test
    void dropsMulticastAndBroadcastIp() {
        a.send(Frames.udp(a.mac(), MacAddress.BROADCAST, a.ip(), Ipv4Address.parse("10.0.1.255"), 1, 2, new byte[0]));
        a.send(Frames.udp(a.mac(), MacAddress.parse("01:00:5e:00:00:fb"), a.ip(), Ipv4Address.parse("224.0.0.251"),
                5353, 5353, new byte[0]));
        assertThat(b.received).isEmpty();
        assertThat(sw.stats("a").drops(DropReason.MULTICAST)).isEqualTo(2);
    }

    @Test
    void dropsAndCountsIpv4Fragments() {
        sw.addRule("web", SecurityRule.of("udp", null, "10.0.0.0/16"));
        byte[] whole = Frames.udp(a.mac(), b.mac(), a.ip(), b.ip(), 1, 2, new byte[64]);
        a.send(whole);
        assertThat(b.received).hasSize(1);
        // First fragment (MF), a later one (offset 1480 B, last), and one in another subnet's direction.
        byte[] first = whole.clone();
        Bytes.put16(first, 20, 0x2000);
        Frames.refreshIpChecksum(first, 14, 20);
        byte[] later = whole.clone();
        Bytes.put16(later, 20, 1480 / 8);
        Frames.refreshIpChecksum(later, 14, 20);
        byte[] routed = Frames.udp(a.mac(), a.gwMac(), a.ip(), c.ip(), 1, 2, new byte[64]);
        Bytes.put16(routed, 20, 0x2000 | 185);
        Frames.refreshIpChecksum(routed, 14, 20);
        a.send(first);
        a.send(later);
        a.send(routed);
        assertThat(b.received).hasSize(1);
        assertThat(c.received).isEmpty();
        assertThat(sw.stats("a").drops(DropReason.IP_FRAGMENT)).isEqualTo(3);
        // Don't Fragment alone is an ordinary datagram.
        byte[] df = whole.clone();
        Bytes.put16(df, 20, 0x4000);
        Frames.refreshIpChecksum(df, 14, 20);
        a.send(df);
        assertThat(b.received).hasSize(2);
    }

    @Test
    void aDeletedNicsAddressIsFreeAndInheritsNoFlows() {
        // a opens a TCP flow to b: b's replies pass a's default deny through a's conntrack.
        a.sendTcp(b, 40000, 80, 0x02);
        b.send(Frames.tcp(b.mac(), a.mac(), b.ip(), a.ip(), 80, 40000, 1, 1001, 0x12, new byte[0]));
        assertThat(a.tcpTo(40000)).isEqualTo(1);
        Ipv4Address addr = b.ip();
        MacAddress mac = b.mac();

        sw.deletePort("b");
        assertThatThrownBy(() -> sw.stats("b")).isInstanceOf(NetworkException.class).hasMessage("no NIC b");
        // The address and MAC are free at once; the newcomer does not inherit b's flow with a.
        TestNic n = new TestNic(sw, sw.createPort("b2", "blue-a", addr, mac, List.of("web"), null));
        n.send(Frames.tcp(n.mac(), a.mac(), n.ip(), a.ip(), 80, 40000, 2, 1001, 0x18, new byte[] {1}));
        assertThat(a.tcpTo(40000)).isEqualTo(1);
        assertThat(sw.stats("a").drops(DropReason.SECURITY_GROUP)).isEqualTo(1);
        // New flows work as for any NIC.
        a.sendTcp(n, 40001, 80, 0x02);
        n.send(Frames.tcp(n.mac(), a.mac(), n.ip(), a.ip(), 80, 40001, 1, 1001, 0x12, new byte[0]));
        assertThat(a.tcpTo(40001)).isEqualTo(1);
    }

    @Test
    void rateLimitHoldsPacketsPerSecond() {
        sw.setRateLimit("a", new RateLimit(0, 1000));
        int sent = 0;
        // 5000 frames/s offered for 2 s in 1 ms steps.
        for (int ms = 0; ms < 2000; ms++) {
            now += 1_000_000L;
            for (int i = 0; i < 5; i++) {
                a.sendIcmp(b, 8, 1);
                sent++;
            }
        }
        long passed = b.received.size();
        assertThat(passed).isBetween(1900L, 2100L);
        assertThat(sw.stats("a").drops(DropReason.RATE_LIMIT)).isEqualTo(sent - passed);
    }

    @Test
    void rateLimitHoldsBitsPerSecond() {
        sw.addRule("web", SecurityRule.of("udp", "2", "10.0.0.0/16"));
        sw.setRateLimit("a", new RateLimit(10_000_000, 0));
        byte[] payload = new byte[1000];
        long bits = 0;
        for (int ms = 0; ms < 1000; ms++) {
            now += 1_000_000L;
            for (int i = 0; i < 3; i++) { // ~25 Mbit/s offered
                a.sendUdp(b, 1, 2, payload);
            }
        }
        for (byte[] f : b.received) {
            bits += 8L * f.length;
        }
        assertThat(bits).isBetween(9_000_000L, 11_000_000L);
    }

    @Test
    void shapingDelaysInsteadOfDropping() {
        sw.addRule("web", SecurityRule.of("udp", "2", "10.0.0.0/16"));
        sw.setRateLimit("a", new RateLimit(8_000_000, 0)); // 1 MB/s
        byte[] f = Frames.udp(a.mac(), b.mac(), a.ip(), b.ip(), 1, 2, new byte[958]); // 1000-byte frames
        long start = now;
        int sent = 0;
        while (now - start < 1_000_000_000L) {
            long d = sw.shapingDelay(a.port, f.length);
            if (d > 0) {
                assertThat(d).isLessThanOrEqualTo(1_000_000L);
                now += d;
                continue;
            }
            sw.fromShapedPort(a.port, f, f.length);
            sent++;
        }
        // 1 s at 1 MB/s plus the 50 ms bucket, nothing dropped.
        assertThat(sent).isBetween(1000, 1051);
        assertThat(b.received).hasSize(sent);
        assertThat(sw.stats("a").drops(DropReason.RATE_LIMIT)).isZero();
    }

    @Test
    void aShapingWorkerThatComesBackLateIsCountedAsStalled() {
        sw.setRateLimit("a", new RateLimit(0, 1000)); // 1 ms per packet, a 50-packet bucket
        byte[] f = Frames.icmpEcho(a.mac(), b.mac(), a.ip(), b.ip(), 8, 1, 1, new byte[0]);
        while (sw.shapingDelay(a.port, f.length) == 0) {
            sw.fromShapedPort(a.port, f, f.length); // the bucket's 50 packets
        }
        assertThat(b.received).hasSize(50);
        // Told to wait ~1 ms, the worker returns after 30 ms: within the bucket, nothing lost.
        now += 30_000_000L;
        assertThat(sw.shapingDelay(a.port, f.length)).isZero();
        assertThat(sw.shaperStalledNanos("a")).isZero();
        sw.fromShapedPort(a.port, f, f.length);
        while (sw.shapingDelay(a.port, f.length) == 0) {
            sw.fromShapedPort(a.port, f, f.length);
        }
        // Now 200 ms: the bucket holds 50 ms of credit, the other 150 ms are the worker's stall.
        now += 200_000_000L;
        sw.shapingDelay(a.port, f.length);
        assertThat(sw.shaperStalledNanos("a")).isBetween(149_000_000L, 151_000_000L);
        // An idle sender (no frame waiting) is not a stall; a new limit starts from zero.
        sw.setRateLimit("a", new RateLimit(0, 1000));
        now += 500_000_000L;
        sw.shapingDelay(a.port, f.length);
        assertThat(sw.shaperStalledNanos("a")).isZero();
        assertThat(sw.shaperStalledNanos("b")).isZero();
    }

    @Test
    void rejectsBadControlPlaneRequests() {
        assertThatThrownBy(() -> sw.createSubnet("x", "blue", Cidr.parse("10.0.1.128/25"), null, null))
                .isInstanceOf(NetworkException.class).hasMessageContaining("overlaps");
        assertThatThrownBy(() -> sw.createSubnet("x", "blue", Cidr.parse("10.1.0.0/24"), null, null))
                .hasMessageContaining("not inside");
        assertThatThrownBy(() -> sw.createPort("x", "blue-a", Ipv4Address.parse("10.0.1.10"), null, List.of(), null))
                .hasMessageContaining("already used by NIC a");
        assertThatThrownBy(() -> sw.createPort("x", "blue-a", Ipv4Address.parse("10.0.1.1"), null, List.of(), null))
                .hasMessageContaining("reserved");
        assertThatThrownBy(() -> sw.createPort("x", "blue-a", null, null, List.of("nope"), null))
                .hasMessageContaining("no security group nope");
        assertThatThrownBy(() -> sw.createVpc("bad name", Cidr.parse("10.0.0.0/8"), null))
                .hasMessageContaining("name");
        assertThatThrownBy(() -> sw.removeRule("web", SecurityRule.of("tcp", "1", "0.0.0.0/0")))
                .hasMessageContaining("has no rule");
    }

    @Test
    void portDownAndFullBackendAreCounted() {
        b.sendIcmp(a, 8, 1); // a learns where b is
        sw.setLink("b", false);
        a.sendIcmp(b, 8, 1);
        assertThat(sw.stats("b").drops(DropReason.PORT_DOWN)).isEqualTo(1);
        sw.attach("b", (f, o, l) -> false);
        a.sendIcmp(b, 8, 1);
        assertThat(sw.stats("b").drops(DropReason.NO_RX_BUFFER)).isEqualTo(1);
    }
}
