package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * A burst ({@link VirtualSwitch#fromPortBurst}) is switched exactly as its frames one by one:
 * the same frames arrive at the same ports in the same order, and every counter agrees, for
 * any mix of unicast, routed, flooded, denied, spoofed, malformed and locally answered frames.
 */
class BurstEquivalenceTest {
    private static final int KINDS = 12;

    /** One switch with a sender a and receivers in its subnet and the VPC's other subnet. */
    static final class Setup {
        final VirtualSwitch sw;
        final TestNic a;
        final TestNic b;
        final TestNic c;
        final TestNic d;

        Setup() {
            sw = new VirtualSwitch(() -> 5_000_000_000L, new SplittableRandom(7), 64); // same MACs in every setup
            sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
            sw.createSubnet("s1", "v", Cidr.parse("10.0.1.0/24"), null, null);
            sw.createSubnet("s2", "v", Cidr.parse("10.0.2.0/24"), null, null);
            sw.createSecurityGroup("g");
            sw.addRule("g", SecurityRule.of("udp", "1000-2000", "10.0.0.0/16"));
            sw.addRule("g", SecurityRule.of("icmp", null, "10.0.0.0/16"));
            a = new TestNic(sw, sw.createPort("a", "s1", null, null, List.of("g"), null));
            b = new TestNic(sw, sw.createPort("b", "s1", null, null, List.of("g"), null));
            c = new TestNic(sw, sw.createPort("c", "s2", null, null, List.of("g"), null));
            d = new TestNic(sw, sw.createPort("d", "s1", null, null, List.of(), null)); // never speaks: flooded to
            b.sendIcmp(a, 8, 1); // b is learned
        }

        byte[] frame(int kind, int i) {
            MacAddress gw = a.gwMac();
            return switch (kind) {
                case 0 -> Frames.udp(a.mac(), b.mac(), a.ip(), b.ip(), 3000 + i, 1500, new byte[i % 40]);
                case 1 -> Frames.udp(a.mac(), gw, a.ip(), c.ip(), 3000 + i, 1200, new byte[8]); // routed
                case 2 -> Frames.udp(a.mac(), d.mac(), a.ip(), d.ip(), 3000 + i, 1500, new byte[8]); // flooded, d denies
                case 3 -> Frames.udp(a.mac(), b.mac(), a.ip(), b.ip(), 3000 + i, 80, new byte[8]); // b denies
                case 4 -> Frames.udp(b.mac(), b.mac(), a.ip(), b.ip(), 3000 + i, 1500, new byte[8]); // spoofed MAC
                case 5 -> Frames.udp(a.mac(), b.mac(), b.ip(), a.ip(), 3000 + i, 1500, new byte[8]); // spoofed IP
                case 6 -> Frames.icmpEcho(a.mac(), gw, a.ip(), a.port.subnet().gateway(), 8, i, 1, new byte[4]); // gateway
                case 7 -> Frames.arp(FrameParser.ARP_REQUEST, a.mac(), MacAddress.BROADCAST, a.mac(), a.ip(),
                        new MacAddress(0), b.ip());
                case 8 -> new byte[10 + i % 4]; // runt
                case 9 -> Frames.udp(a.mac(), gw, a.ip(), Ipv4Address.parse("10.0.9.9"), 3000 + i, 1500, new byte[8]);
                case 10 -> Frames.udp(a.mac(), b.mac(), a.ip(), Ipv4Address.parse("224.0.0.5"), 3000, 1500, new byte[8]);
                default -> Frames.udp(a.mac(), c.mac(), a.ip(), c.ip(), 3000 + i, 1500, new byte[8]); // off-subnet MAC
            };
        }

        List<PortStats> stats() {
            return List.of(sw.stats("a"), sw.stats("b"), sw.stats("c"), sw.stats("d"));
        }
    }

    @Provide
    Arbitrary<List<Integer>> kinds() {
        return Arbitraries.integers().between(0, KINDS - 1).list().ofMinSize(1).ofMaxSize(100);
    }

    @Property(tries = 100)
    void aBurstIsSwitchedLikeItsFramesOneByOne(@ForAll("kinds") List<Integer> kinds) {
        Setup single = new Setup();
        Setup burst = new Setup();
        FrameBurst fb = new FrameBurst();
        for (int i = 0; i < kinds.size(); i++) {
            byte[] f = single.frame(kinds.get(i), i);
            single.a.send(f);
            byte[] g = burst.frame(kinds.get(i), i);
            System.arraycopy(g, 0, fb.buffer(), 0, g.length);
            fb.add(g.length);
            if (fb.isFull()) {
                burst.sw.fromPortBurst(burst.a.port, fb, true, burst.sw.now());
            }
        }
        burst.sw.fromPortBurst(burst.a.port, fb, true, burst.sw.now());
        assertThat(fb.size()).isZero();

        assertThat(burst.stats()).isEqualTo(single.stats());
        for (int n = 0; n < 4; n++) {
            List<byte[]> want = List.of(single.a, single.b, single.c, single.d).get(n).received;
            List<byte[]> got = List.of(burst.a, burst.b, burst.c, burst.d).get(n).received;
            assertThat(got).as("frames received by NIC %d", n).hasSameSizeAs(want);
            for (int k = 0; k < want.size(); k++) {
                assertThat(got.get(k)).as("frame %d of NIC %d", k, n).isEqualTo(want.get(k));
            }
        }
    }
}
