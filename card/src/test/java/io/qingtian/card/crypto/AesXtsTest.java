package io.qingtian.card.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class AesXtsTest {
    record Vector(String name, byte[] key, long sequence, byte[] ciphertext) {}

    static List<Vector> vectors() throws IOException {
        List<Vector> out = new ArrayList<>();
        try (var r = new BufferedReader(new InputStreamReader(
                AesXtsTest.class.getResourceAsStream("/ieee1619-xts-512.txt"), StandardCharsets.US_ASCII))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.trim().split("\\s+");
                out.add(new Vector(f[0], HexFormat.of().parseHex(f[1]), Long.parseUnsignedLong(f[2], 16),
                        HexFormat.of().parseHex(f[3])));
            }
        }
        return out;
    }

    static byte[] ieeePlaintext() {
        byte[] p = new byte[512];
        for (int i = 0; i < p.length; i++) {
            p[i] = (byte) i;
        }
        return p;
    }

    @Test
    void matchesIeee1619VectorsWith512ByteDataUnits() throws IOException {
        List<Vector> vs = vectors();
        assertThat(vs).extracting(Vector::name).containsExactly("vector4", "vector9", "vector10");
        for (Vector v : vs) {
            AesXts xts = new AesXts(v.key());
            byte[] buf = ieeePlaintext();
            xts.encrypt(v.sequence(), buf, 0, buf.length);
            assertThat(HexFormat.of().formatHex(buf)).as(v.name()).isEqualTo(HexFormat.of().formatHex(v.ciphertext()));
            xts.decrypt(v.sequence(), buf, 0, buf.length);
            assertThat(buf).as(v.name() + " decrypts back").isEqualTo(ieeePlaintext());
        }
    }

    @Test
    void sectorNumberIsTheTweakOfEachSectorInAMultiSectorBuffer() throws IOException {
        // dm-crypt layout: sector k of a request starting at sector s uses tweak s+k. Vector 10
        // (sequence 0xff) must appear at byte 512 of a two-sector buffer starting at sector 0xfe.
        Vector v10 = vectors().get(2);
        AesXts xts = new AesXts(v10.key());
        byte[] buf = new byte[1024];
        System.arraycopy(ieeePlaintext(), 0, buf, 512, 512);
        xts.encrypt(0xfe, buf, 0, 1024);
        assertThat(Arrays.copyOfRange(buf, 512, 1024)).isEqualTo(v10.ciphertext());
    }

    @Property(tries = 60)
    void chunkedAndWholeEncryptionAgreeAndRoundTrip(@ForAll @IntRange(min = 1, max = 300) int sectors,
            @ForAll @LongRange(min = 0, max = Long.MAX_VALUE / 1024) long first,
            @ForAll @IntRange(min = 1, max = 299) int split) {
        byte[] key = new byte[64];
        new java.util.Random(sectors * 31L + first).nextBytes(key);
        AesXts xts = new AesXts(key);
        byte[] plain = new byte[sectors * 512];
        new java.util.Random(first).nextBytes(plain);
        byte[] whole = plain.clone();
        xts.encrypt(first, whole, 0, whole.length);
        int cut = Math.min(split, sectors) * 512;
        byte[] parts = plain.clone();
        xts.encrypt(first, parts, 0, cut);
        xts.encrypt(first + cut / 512, parts, cut, parts.length - cut);
        assertThat(parts).isEqualTo(whole);
        assertThat(whole).isNotEqualTo(plain);
        xts.decrypt(first, whole, 0, whole.length);
        assertThat(whole).isEqualTo(plain);
    }

    @Test
    void refusesPartialSectorsAndBadKeys() {
        AesXts xts = new AesXts(new byte[64]);
        assertThatThrownBy(() -> xts.encrypt(0, new byte[1024], 0, 100)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> xts.encrypt(0, new byte[512], 16, 512)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AesXts(new byte[48])).isInstanceOf(IllegalArgumentException.class);
    }
}
