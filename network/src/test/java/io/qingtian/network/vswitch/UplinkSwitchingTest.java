package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class UplinkSwitchingTest {
    @Test
    void routesBetweenGuestsAndTheHostSide() {
        VirtualSwitch sw = new VirtualSwitch(() -> 1L, RandomGenerator.of("L64X128MixRandom"), 1024);
        sw.createVpc("blue", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("blue-a", "blue", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("ssh");
        sw.addRule("ssh", SecurityRule.of("tcp", "22", "172.31.0.0/16"));
        TestNic a = new TestNic(sw, sw.createPort("a", "blue-a", null, null, List.of("ssh"), null));
        List<byte[]> host = new ArrayList<>();
        MacAddress hostMac = MacAddress.parse("02:aa:00:00:00:01");
        Ipv4Address hostIp = Ipv4Address.parse("172.31.255.1");
        Uplink u = sw.attachUplink("blue", "tap0", hostMac, (f, o, l) -> host.add(Arrays.copyOfRange(f, o, o + l)));

        // The host ARPs for the guest: the switch answers with its uplink MAC.
        byte[] arp = Frames.arp(FrameParser.ARP_REQUEST, hostMac, MacAddress.BROADCAST, hostMac, hostIp,
                MacAddress.ZERO, a.ip());
        sw.fromUplink(u, arp, arp.length);
        ParsedFrame r = new ParsedFrame();
        assertThat(FrameParser.parse(host.getLast(), host.getLast().length, r)).isNull();
        assertThat(r.arpSenderMac).isEqualTo(u.mac().bits());

        // Host → guest port 22 is allowed by the SG, port 23 is not.
        byte[] syn = Frames.tcp(hostMac, u.mac(), hostIp, a.ip(), 50000, 22, 1, 0, FrameParser.TCP_SYN, new byte[0]);
        sw.fromUplink(u, syn, syn.length);
        assertThat(a.received).hasSize(1);
        assertThat(a.last().srcMac).isEqualTo(a.gwMac().bits());
        assertThat(a.last().ttl).isEqualTo(63);
        byte[] syn23 = Frames.tcp(hostMac, u.mac(), hostIp, a.ip(), 50000, 23, 1, 0, FrameParser.TCP_SYN, new byte[0]);
        sw.fromUplink(u, syn23, syn23.length);
        assertThat(a.received).hasSize(1);
        assertThat(sw.stats("a").drops(DropReason.SECURITY_GROUP)).isEqualTo(1);

        // Guest → host goes out of the uplink to the host's MAC.
        a.send(Frames.icmpEcho(a.mac(), a.gwMac(), a.ip(), hostIp, 8, 9, 1, new byte[8]));
        assertThat(FrameParser.parse(host.getLast(), host.getLast().length, r)).isNull();
        assertThat(r.dstMac).isEqualTo(hostMac.bits());
        assertThat(r.srcMac).isEqualTo(u.mac().bits());
        assertThat(r.dstIp).isEqualTo(hostIp.bits());
        // The echo reply comes back in (tracked flow, no ICMP rule needed).
        byte[] reply = Frames.icmpEcho(hostMac, u.mac(), hostIp, a.ip(), 0, 9, 1, new byte[8]);
        sw.fromUplink(u, reply, reply.length);
        assertThat(a.received).hasSize(2);

        // The host cannot pretend to be inside the VPC.
        byte[] spoof = Frames.icmpEcho(hostMac, u.mac(), Ipv4Address.parse("10.0.1.77"), a.ip(), 8, 1, 1, new byte[0]);
        sw.fromUplink(u, spoof, spoof.length);
        assertThat(sw.uplinkStats("blue").drops(DropReason.SPOOFED_IP)).isEqualTo(1);
        assertThat(a.received).hasSize(2);
    }

    @Test
    void withoutUplinkOffVpcTrafficHasNoRoute() {
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        TestNic a = new TestNic(sw, sw.createPort("a", "s", null, null, List.of(), null));
        a.send(Frames.icmpEcho(a.mac(), a.gwMac(), a.ip(), Ipv4Address.parse("8.8.8.8"), 8, 1, 1, new byte[0]));
        a.send(Frames.icmpEcho(a.mac(), a.gwMac(), a.ip(), Ipv4Address.parse("10.0.9.9"), 8, 1, 1, new byte[0]));
        assertThat(sw.stats("a").drops(DropReason.NO_ROUTE)).isEqualTo(2);
    }
}
