package io.qingtian.vhostuser.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.vhostuser.protocol.Request.*;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** Round trips of every modelled request, and strict rejection of malformed messages. */
class VhostUserCodecTest {
    @Provide
    Arbitrary<Request> requests() {
        Arbitrary<Integer> idx = Arbitraries.integers().between(0, 255);
        Arbitrary<Integer> any = Arbitraries.integers();
        Arbitrary<Long> l = Arbitraries.longs();
        Arbitrary<MemoryRegion> region = Combinators.combine(Arbitraries.longs().between(0, 1L << 50),
                Arbitraries.longs().between(1, 1L << 40), Arbitraries.longs().between(0, 1L << 47),
                Arbitraries.longs().between(0, 1L << 40)).as(MemoryRegion::new);
        return Arbitraries.oneOf(
                Arbitraries.just(new GetFeatures()), Arbitraries.just(new GetProtocolFeatures()),
                Arbitraries.just(new SetOwner()), Arbitraries.just(new ResetOwner()),
                Arbitraries.just(new GetQueueNum()), Arbitraries.just(new GetMaxMemSlots()),
                l.map(SetFeatures::new), l.map(SetProtocolFeatures::new),
                region.list().ofMinSize(1).ofMaxSize(8).map(rs -> new SetMemTable(rs, fdsFor(rs.size()))),
                Combinators.combine(any, any).as(SetVringNum::new),
                Combinators.combine(any, any).as(SetVringBase::new),
                any.map(GetVringBase::new),
                Combinators.combine(any, Arbitraries.of(true, false)).as(SetVringEnable::new),
                Combinators.combine(any, any, l, l, l, l).as(SetVringAddr::new),
                Combinators.combine(Arbitraries.of(RequestCode.SET_VRING_KICK, RequestCode.SET_VRING_CALL, RequestCode.SET_VRING_ERR),
                        idx, Arbitraries.integers().between(-1, 1000)).as(SetVringFd::new),
                Combinators.combine(Arbitraries.integers().between(0, 128), Arbitraries.integers().between(0, 128), any)
                        .as(GetConfig::new),
                Combinators.combine(Arbitraries.integers().between(0, 128), any,
                        Arbitraries.bytes().array(byte[].class).ofMaxSize(256)).as(SetConfig::new));
    }

    private static int[] fdsFor(int n) {
        int[] fds = new int[n];
        for (int i = 0; i < n; i++) {
            fds[i] = 100 + i;
        }
        return fds;
    }

    @Property(tries = 1000)
    void everyRequestRoundTrips(@ForAll("requests") Request r, @ForAll boolean needReply) throws Exception {
        Message m = VhostUserCodec.encode(r, needReply);
        assertThat(m.needsReply()).isEqualTo(needReply);
        assertThat(m.isReply()).isFalse();
        assertThat(VhostUserCodec.decode(m)).isEqualTo(r);
    }

    @Property(tries = 500)
    void truncatedOrOversizedPayloadsAreRejected(@ForAll("requests") Request r, @ForAll @IntRange(min = 1, max = 16) int delta,
                                                 @ForAll boolean grow) {
        Message m = VhostUserCodec.encode(r, false);
        byte[] p = m.payload();
        if (!grow && p.length == 0) {
            return;
        }
        if (r instanceof SetMemTable && !grow && p.length - delta <= 8) {
            return; // covered by the count check below
        }
        byte[] q = grow ? Arrays.copyOf(p, p.length + delta) : Arrays.copyOf(p, Math.max(0, p.length - delta));
        if (r instanceof SetConfig && grow) {
            return; // a longer SET_CONFIG is caught by the size field: tested separately
        }
        Message bad = new Message(m.request(), m.flags(), q, m.fds());
        assertThatThrownBy(() -> VhostUserCodec.decode(bad)).isInstanceOf(VhostUserProtocolException.class);
    }

    @Test
    void configSizeFieldMustMatchThePayload() {
        Message m = VhostUserCodec.encode(new SetConfig(0, 0, new byte[8]), false);
        byte[] p = Arrays.copyOf(m.payload(), m.payload().length + 4);
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(m.request(), m.flags(), p, new int[0])))
                .isInstanceOf(VhostUserProtocolException.class).hasMessageContaining("SET_CONFIG size");
    }

    @Test
    void missingOrExtraFdsAreRejected() {
        SetMemTable t = new SetMemTable(List.of(new MemoryRegion(0, 4096, 0x7000_0000L, 0), new MemoryRegion(1 << 20, 4096, 0x7100_0000L, 0)),
                new int[] {5, 6});
        Message m = VhostUserCodec.encode(t, false);
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(m.request(), m.flags(), m.payload(), new int[] {5})))
                .hasMessageContaining("carries 1 fds");
        Message kick = VhostUserCodec.encode(new SetVringFd(RequestCode.SET_VRING_KICK, 0, 7), false);
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(kick.request(), kick.flags(), kick.payload(), new int[0])))
                .hasMessageContaining("expected 1");
        Message nofd = VhostUserCodec.encode(new SetVringFd(RequestCode.SET_VRING_CALL, 0, -1), false);
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(nofd.request(), nofd.flags(), nofd.payload(), new int[] {9})))
                .hasMessageContaining("expected 0");
        Message owner = VhostUserCodec.encode(new SetOwner(), false);
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(owner.request(), owner.flags(), owner.payload(), new int[] {9})))
                .hasMessageContaining("unexpected fds");
    }

    @Test
    void badHeadersAreRejected() {
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(0, 1, 0, false)).hasMessageContaining("unknown request 0");
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(41, 1, 0, false)).hasMessageContaining("unknown request 41");
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(1, 2, 0, false)).hasMessageContaining("version");
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(1, 1 | 0x10, 0, false)).hasMessageContaining("flags");
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(1, 1 | 4, 0, false)).hasMessageContaining("reply flag");
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(1, 1, 4097, false)).hasMessageContaining("exceeds");
        assertThatThrownBy(() -> VhostUserCodec.checkHeader(1, 1, -1, false)).hasMessageContaining("exceeds");
    }

    @Test
    void memTableRegionCountIsBounded() {
        byte[] p = new byte[8 + 9 * 32];
        p[0] = 9;
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(5, 1, p, new int[9]))).hasMessageContaining("9 regions");
        byte[] zero = new byte[8];
        assertThatThrownBy(() -> VhostUserCodec.decode(new Message(5, 1, zero, new int[0]))).hasMessageContaining("0 regions");
    }

    @Test
    void repliesRoundTrip() throws Exception {
        assertThat(VhostUserCodec.decodeU64Reply(RequestCode.GET_FEATURES, VhostUserCodec.u64Reply(RequestCode.GET_FEATURES, 0x1234L)))
                .isEqualTo(0x1234L);
        assertThat(VhostUserCodec.decodeVringStateReply(RequestCode.GET_VRING_BASE, 1,
                VhostUserCodec.vringStateReply(RequestCode.GET_VRING_BASE, 1, 77))).isEqualTo(77);
        byte[] cfg = {1, 2, 3, 4};
        assertThat(VhostUserCodec.decodeConfigReply(8, 4, VhostUserCodec.configReply(8, 0, cfg))).isEqualTo(cfg);
        assertThatThrownBy(() -> VhostUserCodec.decodeConfigReply(8, 4, VhostUserCodec.configReply(8, 0, null)))
                .isInstanceOf(VhostUserProtocolException.class);
        assertThatThrownBy(() -> VhostUserCodec.decodeU64Reply(RequestCode.GET_FEATURES,
                VhostUserCodec.u64Reply(RequestCode.GET_QUEUE_NUM, 1))).hasMessageContaining("while waiting for GET_FEATURES");
    }
}
