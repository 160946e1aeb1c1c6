package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Hostile device state bytes (a damaged or crafted snapshot): decoding returns a valid
 * record or throws {@link SnapshotException}; never another exception, never an allocation
 * sized by the attacker beyond the record's limits.
 */
class DeviceStateHostileBytesTest {
    static final List<byte[]> VALID = List.of(
            new SerialState(5, 3, 0x0b, 0, 0, 0xb0, 0x5a, 1, 0, true, 14, true, new byte[] {1, 2, 3}, new byte[] {4, 5}).encode(),
            new RtcState(new byte[128], 0x0b, 0x26, 0x02, -3, true, false, true, 1_700_000_000L, 42L).encode(),
            new I8042State(new byte[32], 0x1c, 0x03, -1, 0, false, 0xfa, new byte[] {1}, new byte[] {2, 3}, -1, true).encode(),
            new AcpiPmState(0x100, 0x100, 0x1401, 123_456L).encode(),
            new VirtioPciState(4, new byte[4096], true, false, new int[8], new long[1], 0, 1, 1L << 32, 0, 15, 0, 0, 0, true,
                    List.of(new VirtioPciState.Queue(256, 1, true, 0x1000, 0x2000, 0x3000)), new int[] {7}).encode());

    @Provide
    Arbitrary<byte[]> validRecord() {
        return Arbitraries.of(VALID);
    }

    private static void decodesOrRefuses(byte[] bytes) {
        try {
            DeviceState s = DeviceState.decode("hostile", bytes);
            assertThat(DeviceState.decode("again", s.encode()).encode()).as("a decoded record re-encodes").isEqualTo(s.encode());
        } catch (SnapshotException expected) {
            assertThat(expected.getMessage()).startsWith("corrupt snapshot: device state '");
        }
    }

    @Property(tries = 2000)
    void randomBytesAreRefusedCleanly(@ForAll @Size(max = 300) byte[] bytes) {
        decodesOrRefuses(bytes);
    }

    @Property(tries = 2000)
    void randomBodiesOfEveryKindAreRefusedCleanly(@ForAll @IntRange(min = 1, max = 6) int kind,
                                                 @ForAll @IntRange(min = 0, max = 2) int version,
                                                 @ForAll @Size(max = 5000) byte[] body) {
        byte[] b = new byte[4 + body.length];
        b[1] = (byte) kind;
        b[3] = (byte) version;
        System.arraycopy(body, 0, b, 4, body.length);
        decodesOrRefuses(b);
    }

    @Property(tries = 3000)
    void corruptedValidRecordsDecodeOrAreRefused(@ForAll("validRecord") byte[] valid,
                                                 @ForAll @IntRange(min = 0, max = 5000) int at,
                                                 @ForAll byte xor) {
        byte[] bad = valid.clone();
        bad[at % bad.length] ^= (byte) (xor == 0 ? 1 : xor);
        decodesOrRefuses(bad);
    }

    @Property(tries = 500)
    void everyTruncationIsRefused(@ForAll("validRecord") byte[] valid, @ForAll @IntRange(min = 0, max = 5000) int cut) {
        byte[] shorter = Arrays.copyOf(valid, cut % valid.length);
        assertThatThrownBy(() -> DeviceState.decode("short", shorter)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining("corrupt snapshot");
    }

    @Property(tries = 200)
    void trailingBytesAreRefused(@ForAll("validRecord") byte[] valid, @ForAll @Size(min = 1, max = 8) byte[] extra) {
        byte[] longer = Arrays.copyOf(valid, valid.length + extra.length);
        System.arraycopy(extra, 0, longer, valid.length, extra.length);
        assertThatThrownBy(() -> DeviceState.decode("long", longer)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining("unexpected bytes");
    }

    @Property(tries = 50)
    void validRecordsRoundTrip(@ForAll("validRecord") byte[] valid) {
        assertThat(DeviceState.decode("valid", valid).encode()).isEqualTo(valid);
    }
}
