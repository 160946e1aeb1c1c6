package io.qingtian.hypervisor.pci;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class PciConfigTest {

    /** A function with one BAR of each kind. */
    static final class ThreeBars extends PciFunction {
        ThreeBars() {
            super(new PciConfigSpace(0x1234, 0x5678, 0x018000, 1, 0x1234, 1));
            declareBar(new PciBar(0, 0x4000, PciBar.Kind.MEMORY64, true));
            declareBar(new PciBar(2, 0x1000, PciBar.Kind.MEMORY32, false));
            declareBar(new PciBar(3, 0x20, PciBar.Kind.IO, false));
        }

        @Override
        public long barRead(PciBar bar, long offset, int size) {
            return 0;
        }

        @Override
        public void barWrite(PciBar bar, long offset, int size, long value) {
        }
    }

    private static int cf8(int device, int reg) {
        return 0x8000_0000 | device << 11 | reg;
    }

    @Test
    void enumeratesHostBridgeAndAbsentSlotsThroughPortCf8() {
        PciBus bus = new PciBus();
        PciConfigIo io = new PciConfigIo(bus);
        io.write(0, 4, cf8(0, 0));
        assertThat(io.read(4, 4)).isEqualTo(0x0d57_8086L);
        io.write(0, 4, cf8(0, 0x08));
        assertThat(io.read(4, 4) >>> 8).isEqualTo(0x060000L); // host bridge class
        io.write(0, 4, cf8(7, 0));
        assertThat(io.read(4, 4)).isEqualTo(0xffff_ffffL);
        assertThat(io.read(4, 2)).isEqualTo(0xffffL);
        // disabled CONFIG_ADDRESS reads all ones too
        io.write(0, 4, 0);
        assertThat(io.read(4, 4)).isEqualTo(0xffff_ffffL);
    }

    @Test
    void barSizingProbeReturnsSizeAndTypeBits() {
        PciBus bus = new PciBus();
        ThreeBars f = new ThreeBars();
        int slot = bus.add(f);
        PciConfigIo io = new PciConfigIo(bus);
        // 64-bit prefetchable memory BAR of 16 KiB in BAR0/BAR1
        io.write(0, 4, cf8(slot, 0x10));
        io.write(4, 4, 0xffff_ffffL);
        assertThat(io.read(4, 4)).isEqualTo(0xffff_c00cL);
        io.write(0, 4, cf8(slot, 0x14));
        io.write(4, 4, 0xffff_ffffL);
        assertThat(io.read(4, 4)).isEqualTo(0xffff_ffffL);
        // 32-bit memory BAR of 4 KiB
        io.write(0, 4, cf8(slot, 0x18));
        io.write(4, 4, 0xffff_ffffL);
        assertThat(io.read(4, 4)).isEqualTo(0xffff_f000L);
        // I/O BAR of 32 ports
        io.write(0, 4, cf8(slot, 0x1c));
        io.write(4, 4, 0xffff_ffffL);
        assertThat(io.read(4, 4)).isEqualTo(0xffff_ffe1L);
        // BAR5 is not implemented: reads zero, writes ignored
        io.write(0, 4, cf8(slot, 0x24));
        io.write(4, 4, 0xffff_ffffL);
        assertThat(io.read(4, 4)).isZero();
    }

    @Test
    void allocatorPlacesBarsAlignedInsideTheirWindows() {
        ThreeBars f = new ThreeBars();
        BarAllocator alloc = new BarAllocator(0xc000_0000L, 0x1000_0000L, 0x1_0000_0000_0L, 1L << 30,
                0x1000, 0x1000, 1L << 30);
        alloc.place(f);
        long b0 = f.barAddress(f.bar(0));
        long b2 = f.barAddress(f.bar(2));
        long b3 = f.barAddress(f.bar(3));
        assertThat(b0 % 0x4000).isZero();
        assertThat(b2 % 0x1000).isZero();
        assertThat(b0).isBetween(0xc000_0000L, 0xd000_0000L - 0x4000);
        assertThat(b2).isBetween(0xc000_0000L, 0xd000_0000L - 0x1000);
        assertThat(b2 >= b0 + 0x4000 || b0 >= b2 + 0x1000).isTrue();
        assertThat(b3).isBetween(0x1000L, 0x2000L - 0x20);
    }

    @Test
    void statusWriteOneToClearAndReadOnlyIds() {
        PciConfigSpace c = new PciConfigSpace(0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x1042);
        c.set16(PciConfigSpace.STATUS, 0x8000);
        c.writeOneToClear16(PciConfigSpace.STATUS, 0x8000);
        c.write(PciConfigSpace.VENDOR_ID, 4, 0);
        assertThat(c.get16(PciConfigSpace.VENDOR_ID)).isEqualTo(0x1af4);
        c.write(PciConfigSpace.STATUS, 2, 0x8000);
        assertThat(c.get16(PciConfigSpace.STATUS)).isZero();
        c.write(PciConfigSpace.COMMAND, 2, 0xffff);
        assertThat(c.get16(PciConfigSpace.COMMAND)).isEqualTo(0x0407);
    }

    @Test
    void ecamAddressesTheSameSpaceAsPortIo() {
        PciBus bus = new PciBus();
        int slot = bus.add(new ThreeBars());
        PciConfigMmio ecam = new PciConfigMmio(bus);
        assertThat(ecam.read((long) slot << 15, 4)).isEqualTo(0x5678_1234L);
        assertThat(ecam.read((long) slot << 15 | 0x2, 2)).isEqualTo(0x5678L);
        assertThat(ecam.read(31L << 15, 4)).isEqualTo(0xffff_ffffL);
    }

    @Property
    void hostileConfigAccessesNeverThrow(@ForAll @IntRange(min = 0, max = 0xfffff) int offset,
                                         @ForAll @IntRange(min = 0, max = 9) int size, @ForAll long value) {
        PciBus bus = new PciBus();
        bus.add(new ThreeBars());
        PciConfigMmio ecam = new PciConfigMmio(bus);
        PciConfigIo io = new PciConfigIo(bus);
        ecam.write(offset, size, value);
        ecam.read(offset, size);
        io.write(offset & 7, size, value);
        io.read(offset & 7, size);
    }
}
