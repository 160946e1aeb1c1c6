package io.qingtian.hypervisor.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class BusTest {
    record Hit(String dev, long offset, int size, long value) {}

    static final class Dev implements BusDevice {
        final String name;
        final List<Hit> hits;

        Dev(String name, List<Hit> hits) {
            this.name = name;
            this.hits = hits;
        }

        @Override
        public long read(long offset, int size) {
            hits.add(new Hit(name, offset, size, -2));
            return 0x1234;
        }

        @Override
        public void write(long offset, int size, long value) {
            hits.add(new Hit(name, offset, size, value));
        }
    }

    private final List<Hit> hits = new ArrayList<>();
    private final Bus bus = Bus.builder()
            .add(0x3f8, 8, new Dev("com1", hits), "com1")
            .add(0x60, 5, new Dev("kbd", hits), "kbd")
            .add(0x70, 2, new Dev("rtc", hits), "rtc")
            .build();

    @Test
    void dispatchesToTheOwningDeviceWithTheOffsetInsideIt() {
        bus.write(0x3fb, 1, 0x83);
        assertThat(bus.read(0x64, 1)).isEqualTo(0x1234);
        bus.write(0x71, 1, 7);
        assertThat(hits).containsExactly(new Hit("com1", 3, 1, 0x83), new Hit("kbd", 4, 1, -2), new Hit("rtc", 1, 1, 7));
    }

    @Test
    void unmappedReadsAreAllOnesAndWritesAreDropped() {
        assertThat(bus.read(0x80, 1)).isEqualTo(0xff);
        assertThat(bus.read(0x3f7, 2)).isEqualTo(0xffff);
        assertThat(bus.read(0x65, 4)).isEqualTo(0xffff_ffffL);
        bus.write(0x80, 1, 0x42);
        assertThat(hits).isEmpty();
    }

    @Test
    void accessRunningPastTheRangeEndDoesNotReachTheDevice() {
        assertThat(bus.read(0x71, 2)).isEqualTo(0xffff);
        bus.write(0x3ff, 4, 1);
        assertThat(hits).isEmpty();
    }

    @Test
    void overlappingRangesAreRejected() {
        assertThatThrownBy(() -> Bus.builder().add(0x60, 5, new Dev("a", hits), "a").add(0x64, 1, new Dev("b", hits), "b"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps a");
    }

    @Property
    void indexOfFindsExactlyTheContainingRange(@ForAll @LongRange(min = 0, max = 0x1000) long addr) {
        int i = bus.indexOf(addr);
        boolean inside = (addr >= 0x3f8 && addr < 0x400) || (addr >= 0x60 && addr < 0x65) || (addr >= 0x70 && addr < 0x72);
        assertThat(i >= 0).isEqualTo(inside);
        if (inside) {
            Bus.Range r = bus.ranges().get(i);
            assertThat(addr).isBetween(r.base(), r.end() - 1);
        }
    }
}
