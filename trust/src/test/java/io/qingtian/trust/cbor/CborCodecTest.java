package io.qingtian.trust.cbor;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CborCodecTest {
    private static byte[] hex(String s) {
        return HexFormat.of().parseHex(s);
    }

    @Test
    void encodesRfc8949AppendixAExamples() {
        assertThat(CborEncoder.encode(CborItem.integer(0))).isEqualTo(hex("00"));
        assertThat(CborEncoder.encode(CborItem.integer(23))).isEqualTo(hex("17"));
        assertThat(CborEncoder.encode(CborItem.integer(24))).isEqualTo(hex("1818"));
        assertThat(CborEncoder.encode(CborItem.integer(1000))).isEqualTo(hex("1903e8"));
        assertThat(CborEncoder.encode(CborItem.integer(1000000))).isEqualTo(hex("1a000f4240"));
        assertThat(CborEncoder.encode(CborItem.integer(1000000000000L))).isEqualTo(hex("1b000000e8d4a51000"));
        assertThat(CborEncoder.encode(CborItem.integer(-1))).isEqualTo(hex("20"));
        assertThat(CborEncoder.encode(CborItem.integer(-1000))).isEqualTo(hex("3903e7"));
        assertThat(CborEncoder.encode(CborItem.integer(Long.MIN_VALUE))).isEqualTo(hex("3b7fffffffffffffff"));
        assertThat(CborEncoder.encode(CborItem.text("IETF"))).isEqualTo(hex("6449455446"));
        assertThat(CborEncoder.encode(CborItem.text("\u00fc"))).isEqualTo(hex("62c3bc"));
        assertThat(CborEncoder.encode(CborItem.bytes(hex("01020304")))).isEqualTo(hex("4401020304"));
        assertThat(CborEncoder.encode(CborItem.Simple.NULL)).isEqualTo(hex("f6"));
        assertThat(CborEncoder.encode(new CborItem.Array(List.of(CborItem.integer(1),
                new CborItem.Array(List.of(CborItem.integer(2), CborItem.integer(3))))))).isEqualTo(hex("8201820203"));
    }

    @Test
    void sortsMapKeysByEncodedBytes() {
        // RFC 8949 §4.2.1: 10 (0x0a) < 100 (0x1864) < -1 (0x20) < "z" (0x617a) < "aa" (0x626161)
        CborItem.CborMap m = CborItem.CborMap.builder()
                .put("aa", CborItem.integer(5)).put("z", CborItem.integer(4)).put(-1, CborItem.integer(3))
                .put(100, CborItem.integer(2)).put(10, CborItem.integer(1)).build();
        assertThat(CborEncoder.encode(m)).isEqualTo(hex("a50a011864022003617a0462616105"));
    }

    @Property(tries = 300)
    void decodeInvertsEncode(@ForAll("items") CborItem item) throws CborException {
        byte[] enc = CborEncoder.encode(item);
        CborItem back = CborDecoder.decode(enc);
        assertThat(CborEncoder.encode(back)).isEqualTo(enc);
    }

    @Property(tries = 2000)
    void arbitraryBytesAreDecodedOrRefusedNeverCrash(@ForAll @Size(max = 64) byte[] junk) {
        try {
            CborItem item = CborDecoder.decode(junk);
            // Accepted input is a value we can encode again (the decoder built nothing we cannot emit).
            assertThat(CborEncoder.encode(item)).isNotEmpty();
        } catch (CborException expected) {
            assertThat(expected.getMessage()).startsWith("CBOR: ");
        }
    }

    @Test
    void refusesIndefiniteLengths() {
        assertRefused("9f0102ff", "indefinite");
        assertRefused("5f4101ff", "indefinite");
        assertRefused("bf6161 01ff".replace(" ", ""), "indefinite");
    }

    @Test
    void lenientModeAcceptsIndefiniteContainersOnly() throws CborException {
        assertThat(CborDecoder.decodeLenient(hex("9f0102ff"), 16, 100))
                .isEqualTo(new CborItem.Array(List.of(CborItem.integer(1), CborItem.integer(2))));
        assertThat(((CborItem.CborMap) CborDecoder.decodeLenient(hex("bf616101ff"), 16, 100)).get("a"))
                .isEqualTo(CborItem.integer(1));
        for (String[] c : new String[][] {{"5f4101ff", "indefinite"}, {"9f0102", "no break"}, {"bf6161ff", "break between"},
                {"bf61610161610fff", "duplicate"}, {"9f0102ff00", "trailing"}}) {
            assertThatThrownBy(() -> CborDecoder.decodeLenient(hex(c[0]), 16, 100)).as(c[0])
                    .isInstanceOf(CborException.class).hasMessageContaining(c[1]);
        }
        byte[] deep = new byte[60];
        java.util.Arrays.fill(deep, (byte) 0x9f);
        assertThatThrownBy(() -> CborDecoder.decodeLenient(deep, 16, 100)).hasMessageContaining("nesting");
    }

    @Property(tries = 1000)
    void lenientModeNeverCrashesOnArbitraryBytes(@ForAll @Size(max = 64) byte[] junk) {
        try {
            CborDecoder.decodeLenient(junk, 16, 1 << 10);
        } catch (CborException expected) {
            assertThat(expected.getMessage()).startsWith("CBOR: ");
        }
    }

    @Test
    void refusesNonPreferredArguments() {
        assertRefused("1817", "shortest");      // 23 in one extra byte
        assertRefused("190017", "shortest");
        assertRefused("1a0000ffff", "shortest");
        assertRefused("1b00000000ffffffff", "shortest");
        assertRefused("5800", "shortest");      // empty bstr with a 1-byte length
    }

    @Test
    void refusesTruncatedTrailingAndLyingLengths() {
        assertRefused("", "empty");
        assertRefused("19", "truncated");
        assertRefused("4401", "runs past the end");
        assertRefused("0000", "trailing");
        assertRefused("9bffffffffffffffff", "elements but only");
        assertRefused("9a7fffffff00", "elements but only");
        assertRefused("bb7fffffffffffffff", "elements but only");
        assertRefused("5b7fffffffffffffff", "runs past the end");
        assertRefused("1bffffffffffffffff", "63 bits");
    }

    @Test
    void refusesFloatsUndefinedUnknownSimplesAndBreaks() {
        assertRefused("f93c00", "floating");
        assertRefused("fb3ff199999999999a", "floating");
        assertRefused("f7", "undefined");
        assertRefused("f0", "simple value");
        assertRefused("ff", "break");
        assertRefused("1c", "reserved");
    }

    @Test
    void refusesInvalidUtf8DuplicateKeysAndOddKeys() {
        assertRefused("62c328", "UTF-8");
        assertRefused("a2010101 02".replace(" ", ""), "duplicate map key 1");
        assertRefused("a2616101616102", "duplicate map key \"a\"");
        assertRefused("a1800a", "map key");
    }

    @Test
    void refusesDeepNesting() {
        byte[] deep = new byte[100];
        java.util.Arrays.fill(deep, (byte) 0x81);
        deep[99] = 0x00;
        assertThatThrownBy(() -> CborDecoder.decode(deep)).isInstanceOf(CborException.class).hasMessageContaining("nesting");
        byte[] ok = new byte[10];
        java.util.Arrays.fill(ok, (byte) 0x81);
        ok[9] = 0;
        assertThat(catchDecode(ok)).isNull();
    }

    @Test
    void refusesOversizedInput() {
        assertThatThrownBy(() -> CborDecoder.decode(new byte[100], 16, 50)).isInstanceOf(CborException.class)
                .hasMessageContaining("exceeds the limit");
    }

    private static Exception catchDecode(byte[] b) {
        try {
            CborDecoder.decode(b);
            return null;
        } catch (CborException e) {
            return e;
        }
    }

    private static void assertRefused(String hexInput, String reason) {
        assertThatThrownBy(() -> CborDecoder.decode(hex(hexInput)))
                .isInstanceOf(CborException.class).hasMessageContaining(reason);
    }

    @Provide
    Arbitrary<CborItem> items() {
        return item(3);
    }

    private Arbitrary<CborItem> item(int depth) {
        Arbitrary<CborItem> leaf = Arbitraries.oneOf(
                Arbitraries.longs().map(CborItem::integer),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(40).map(CborItem::bytes),
                Arbitraries.strings().ofMaxLength(20).filter(s -> s.chars().noneMatch(c -> Character.isSurrogate((char) c)))
                        .map(CborItem::text),
                Arbitraries.of(CborItem.Simple.values()).map(s -> (CborItem) s));
        if (depth == 0) {
            return leaf;
        }
        Arbitrary<CborItem> child = Arbitraries.lazy(() -> item(depth - 1));
        Arbitrary<CborItem> array = child.list().ofMaxSize(4).map(CborItem.Array::new);
        Arbitrary<CborItem> map = Arbitraries.longs().between(-100, 100).set().ofMaxSize(4).flatMap(keys ->
                child.list().ofSize(keys.size()).map(vals -> {
                    CborItem.CborMap.Builder b = CborItem.CborMap.builder();
                    int i = 0;
                    for (long k : keys) {
                        b.put(k, vals.get(i++));
                    }
                    return b.build();
                }));
        Arbitrary<CborItem> tag = Arbitraries.longs().between(0, 1 << 20).flatMap(t -> child.map(c -> new CborItem.Tag(t, c)));
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(4, leaf), net.jqwik.api.Tuple.of(2, array),
                net.jqwik.api.Tuple.of(2, map), net.jqwik.api.Tuple.of(1, tag));
    }
}
