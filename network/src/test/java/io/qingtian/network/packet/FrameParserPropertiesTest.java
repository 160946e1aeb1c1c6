package io.qingtian.network.packet;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** The parser faces hostile guests: it must never throw, and everything it accepts must be consistent. */
class FrameParserPropertiesTest {
    final ParsedFrame p = new ParsedFrame();

    @Property(tries = 3000)
    void neverThrowsOnRandomBytes(@ForAll @Size(max = 1600) byte[] frame, @ForAll @IntRange(min = 0, max = 1700) int len) {
        DropReason r = FrameParser.parse(frame, Math.min(len, frame.length), p);
        if (r == null) {
            assertAcceptedIsConsistent(Math.min(len, frame.length));
        }
    }

    @Provide
    Arbitrary<byte[]> validFrames() {
        MacAddress m1 = MacAddress.parse("02:00:00:00:00:01");
        MacAddress m2 = MacAddress.parse("02:00:00:00:00:02");
        Ipv4Address a = Ipv4Address.parse("10.0.0.1");
        Ipv4Address b = Ipv4Address.parse("10.0.0.2");
        Arbitrary<byte[]> payload = Arbitraries.bytes().array(byte[].class).ofMaxSize(1400);
        return Arbitraries.oneOf(
                payload.map(pl -> Frames.udp(m1, m2, a, b, 1, 2, pl)),
                payload.map(pl -> Frames.tcp(m1, m2, a, b, 1, 2, 3, 4, FrameParser.TCP_ACK, pl)),
                payload.map(pl -> Frames.icmpEcho(m1, m2, a, b, 8, 1, 1, pl)),
                Arbitraries.just(Frames.arp(1, m1, MacAddress.BROADCAST, m1, a, MacAddress.ZERO, b)));
    }

    /** Valid frames with bytes flipped and truncated: dropped with a reason or accepted consistently. */
    @Property(tries = 3000)
    void mutatedValidFramesAreHandled(@ForAll("validFrames") byte[] frame, @ForAll @IntRange(min = 0, max = 1599) int pos,
                                      @ForAll byte xor, @ForAll @IntRange(min = 0, max = 1600) int cut) {
        byte[] f = frame.clone();
        f[pos % f.length] ^= xor;
        int len = Math.min(cut, f.length);
        DropReason r = FrameParser.parse(f, len, p);
        if (r == null) {
            assertAcceptedIsConsistent(len);
        }
    }

    @Property(tries = 500)
    void validFramesParse(@ForAll("validFrames") byte[] frame) {
        assertThat(FrameParser.parse(frame, frame.length, p)).isNull();
    }

    private void assertAcceptedIsConsistent(int len) {
        assertThat(len).isBetween(EtherType.HEADER_LEN, EtherType.MAX_FRAME);
        if (p.isIpv4()) {
            assertThat(p.l4Offset + p.l4Length).isLessThanOrEqualTo(len);
            assertThat(p.payloadOffset()).isBetween(p.l4Offset, p.l4Offset + p.l4Length);
            assertThat(Checksum.compute(p.data, p.ipOffset, p.ipHeaderLength)).isZero();
        } else {
            assertThat(p.isArp()).isTrue();
            assertThat(len).isGreaterThanOrEqualTo(42);
        }
    }
}
