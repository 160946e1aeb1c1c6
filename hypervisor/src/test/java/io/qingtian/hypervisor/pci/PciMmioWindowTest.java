package io.qingtian.hypervisor.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** BAR dispatch through the root bridge's MMIO window: decode bits, BAR moves, master aborts. */
class PciMmioWindowTest {
    static final long BASE = 0xc000_0000L;

    static final class Fn extends PciFunction {
        final List<String> log = new ArrayList<>();

        Fn() {
            super(new PciConfigSpace(0x1af4, 0x1042, 0x018000, 1, 0x1af4, 2));
            declareBar(new PciBar(0, 0x1000, PciBar.Kind.MEMORY64, false));
            declareBar(new PciBar(2, 0x100, PciBar.Kind.MEMORY32, false));
        }

        @Override
        public long barRead(PciBar bar, long offset, int size) {
            log.add("r" + bar.index() + "@" + offset);
            return 0x1234;
        }

        @Override
        public void barWrite(PciBar bar, long offset, int size, long value) {
            log.add("w" + bar.index() + "@" + offset + "=" + value);
        }
    }

    PciBus bus;
    Fn fn;
    PciMmioWindow window;

    @BeforeEach
    void setUp() {
        bus = new PciBus();
        fn = new Fn();
        bus.add(fn);
        new BarAllocator(BASE, 0x2000_0000L, 1L << 32, 1L << 32, 0x1000, 0x1000, 1L << 28).place(fn);
        window = new PciMmioWindow(bus, BASE);
    }

    private void command(int bits) {
        bus.configWrite(0, 1, 0, PciConfigSpace.COMMAND, 2, bits);
    }

    @Test
    void accessesReachTheBarOnlyWhileMemoryDecodeIsOn() {
        assertThat(window.read(0x10, 4)).as("decode off: master abort").isEqualTo(0xffff_ffffL);
        window.write(0x10, 4, 7);
        assertThat(fn.log).isEmpty();
        command(PciConfigSpace.COMMAND_MEMORY);
        assertThat(window.read(0x10, 4)).isEqualTo(0x1234);
        window.write(0x1000 + 0x8, 2, 9); // BAR 2 follows BAR 0 (4 KiB aligned)
        assertThat(fn.log).containsExactly("r0@16", "w2@8=9");
    }

    @Test
    void aMovedBarIsFollowedAndItsOldAddressGoesDead() {
        command(PciConfigSpace.COMMAND_MEMORY);
        long newBar = BASE + 0x10_0000;
        bus.configWrite(0, 1, 0, PciConfigSpace.BAR0, 4, (int) newBar);
        bus.configWrite(0, 1, 0, PciConfigSpace.BAR0 + 4, 4, 0);
        assertThat(fn.barAddress(fn.bar(0))).isEqualTo(newBar);
        assertThat(window.read(0, 4)).isEqualTo(0xffff_ffffL);
        assertThat(window.read(0x10_0000 + 0x20, 4)).isEqualTo(0x1234);
        assertThat(fn.log).containsExactly("r0@32");
    }

    @Test
    void accessesOutsideEveryBarOrStraddlingItsEndAreDroppedNeverThrown() {
        command(PciConfigSpace.COMMAND_MEMORY);
        assertThat(window.read(0x1f00_0000L, 8)).isEqualTo(-1L);
        window.write(0x1f00_0000L, 4, 1);
        window.write(0xffe, 4, 1); // starts in BAR 0, runs past its end
        assertThat(window.read(0x10fe, 4)).isEqualTo(0xffff_ffffL); // BAR 2 is 256 bytes: 0x10fe+4 > end
        assertThat(fn.log).isEmpty();
    }

    @Test
    void barSizingProbeWithDecodeOffReadsSizeAndRestores() {
        int reg = PciConfigSpace.BAR0 + 8; // BAR 2, 32-bit, 256 bytes
        int old = bus.configRead(0, 1, 0, reg, 4);
        bus.configWrite(0, 1, 0, reg, 4, -1);
        assertThat(bus.configRead(0, 1, 0, reg, 4)).isEqualTo(0xffff_ff00);
        bus.configWrite(0, 1, 0, reg, 4, old);
        assertThat(bus.configRead(0, 1, 0, reg, 4)).isEqualTo(old);
    }
}
