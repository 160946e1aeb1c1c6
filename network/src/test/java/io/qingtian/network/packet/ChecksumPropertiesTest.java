package io.qingtian.network.packet;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** The word-at-a-time checksum equals the plain RFC 1071 definition at every offset and length. */
class ChecksumPropertiesTest {
    static int reference(byte[] b, int off, int len) {
        long sum = 0;
        for (int i = 0; i < len; i += 2) {
            int hi = b[off + i] & 0xff;
            int lo = i + 1 < len ? b[off + i + 1] & 0xff : 0;
            sum += (hi << 8) | lo;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }

    @Property(tries = 1000)
    void matchesTheDefinition(@ForAll @Size(min = 1, max = 3000) byte[] data, @ForAll @IntRange(max = 2999) int a,
                              @ForAll @IntRange(max = 2999) int b) {
        int off = Math.min(a, data.length - 1);
        int len = Math.min(b, data.length - off);
        assertThat(Checksum.compute(data, off, len)).isEqualTo(reference(data, off, len));
    }

    /** Saturated sums (all ones) and empty ones, at every length and odd/even offsets. */
    @org.junit.jupiter.api.Test
    void extremesMatchTheDefinition() {
        for (byte fill : new byte[] {(byte) 0xff, 0, (byte) 0x80}) {
            byte[] data = new byte[1600];
            java.util.Arrays.fill(data, fill);
            for (int off = 0; off < 3; off++) {
                for (int len = 0; len <= 1597; len++) {
                    assertThat(Checksum.compute(data, off, len)).isEqualTo(reference(data, off, len));
                }
            }
        }
    }
}
