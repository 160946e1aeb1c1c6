package io.qingtian.virtio.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
    private static final Arena ARENA = Arena.ofAuto();
    // Two regions with a hole between them, as on x86 (RAM below the MMIO hole and above 4 GiB).
    private static final GuestMemory MEM = new GuestMemory(List.of(
            new GuestRegion(0x10000, ARENA.allocate(0x4000), -1, 0),
            new GuestRegion(0x1000, ARENA.allocate(0x1000), -1, 0)));

    @Test
    void translatesInsideEachRegion() throws Exception {
        MEM.writeU32(0x1ffc, 0xcafebabe);
        MEM.writeU64(0x13ff8, 0x0102030405060708L);
        assertThat(MEM.readU32(0x1ffc)).isEqualTo(0xcafebabe);
        assertThat(MEM.readU64(0x13ff8)).isEqualTo(0x0102030405060708L);
        assertThat(MEM.readU16(0x13ff8)).isEqualTo(0x0708);
        assertThat(MEM.totalSize()).isEqualTo(0x5000);
    }

    @Test
    void rejectsRangesCrossingRegionEndOrInHoles() {
        assertThatThrownBy(() -> MEM.slice(0x1ffe, 4)).isInstanceOf(GuestMemoryException.class)
                .hasMessageContaining("runs past the end");
        assertThatThrownBy(() -> MEM.slice(0x8000, 1)).isInstanceOf(GuestMemoryException.class)
                .hasMessageContaining("not in guest memory");
        assertThatThrownBy(() -> MEM.slice(0x0, 1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> MEM.slice(0x1000, -1)).isInstanceOf(GuestMemoryException.class);
    }

    @Test
    void rejectsOverlappingRegions() {
        assertThatThrownBy(() -> new GuestMemory(List.of(
                new GuestRegion(0x1000, ARENA.allocate(0x2000), -1, 0),
                new GuestRegion(0x2000, ARENA.allocate(0x1000), -1, 0))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap");
    }

    @Property
    void sliceIsInsideARegionOrThrows(@ForAll long gpa, @ForAll long len) {
        boolean valid = MEM.isValidRange(gpa, len);
        try {
            var s = MEM.slice(gpa, len);
            assertThat(valid).isTrue();
            assertThat(s.byteSize()).isEqualTo(len);
            GuestRegion r = MEM.regionOf(gpa);
            assertThat(r).isNotNull();
            assertThat(gpa + len).isLessThanOrEqualTo(r.end());
        } catch (GuestMemoryException e) {
            assertThat(valid).isFalse();
        }
    }
}
