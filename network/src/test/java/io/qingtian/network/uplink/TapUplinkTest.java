package io.qingtian.network.uplink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.IpProto;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.ParsedFrame;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.network.packet.Cidr;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The host kernel as the real peer: a guest port pings an address on the TAP's host side,
 * the kernel ARPs for the guest (answered by the switch) and replies through the TAP.
 */
class TapUplinkTest {
    static void ip(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", cmd) + ": " + out);
        }
    }

    @Test
    void guestPingsTheHostThroughTheTap() throws Exception {
        assumeTrue(Files.isWritable(Path.of("/dev/net/tun")), "needs /dev/net/tun");
        assumeTrue("root".equals(System.getProperty("user.name")), "needs CAP_NET_ADMIN");
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("blue", Cidr.parse("10.213.0.0/16"), null);
        sw.createSubnet("a", "blue", Cidr.parse("10.213.1.0/24"), null, null);
        Port port = sw.createPort("g", "a", null, null, List.of(), null);
        LinkedBlockingQueue<byte[]> guest = new LinkedBlockingQueue<>();
        sw.attach("g", (f, o, l) -> guest.add(java.util.Arrays.copyOfRange(f, o, o + l)));
        String ifname = "qtn" + ProcessHandle.current().pid() % 100000;
        try (TapUplink tap = TapUplink.attach(sw, "blue", ifname)) {
            ip("link", "set", ifname, "up");
            ip("addr", "add", "172.31.213.1/32", "dev", ifname);
            ip("route", "add", "10.213.0.0/16", "dev", ifname);
            Ipv4Address host = Ipv4Address.parse("172.31.213.1");
            ParsedFrame reply = null;
            for (int attempt = 0; attempt < 120 && reply == null; attempt++) { // a late reply waits in the queue for the next look
                byte[] echo = Frames.icmpEcho(port.mac(), port.subnet().gatewayMac(), port.ip(), host, 8, 0x4242,
                        attempt, "hello host".getBytes());
                sw.fromPort(port, echo, echo.length);
                byte[] f;
                while ((f = guest.poll(250, TimeUnit.MILLISECONDS)) != null) {
                    ParsedFrame p = new ParsedFrame();
                    if (FrameParser.parse(f, f.length, p) == null && p.isIpv4() && p.protocol == IpProto.ICMP
                            && p.icmpType == FrameParser.ICMP_ECHO_REPLY) {
                        reply = p;
                        break;
                    }
                }
            }
            assertThat(reply).as("echo reply from the host kernel").isNotNull();
            assertThat(reply.srcIp).isEqualTo(host.bits());
            assertThat(reply.dstIp).isEqualTo(port.ip().bits());
            assertThat(reply.srcMac).isEqualTo(port.subnet().gatewayMac().bits());
            assertThat(sw.uplinkStats("blue").rxPackets()).isPositive();
            assertThat(sw.stats("g").txPackets()).isPositive();
        }
    }
}
