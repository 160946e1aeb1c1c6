package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.bus.BusDevice;
import io.qingtian.hypervisor.bus.IrqLine;
import io.qingtian.hypervisor.devices.AcpiPm;
import io.qingtian.hypervisor.devices.CmosRtc;
import io.qingtian.hypervisor.devices.I8042;
import io.qingtian.hypervisor.devices.Serial16550;
import io.qingtian.hypervisor.pci.MsiMessage;
import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.hypervisor.virtio.VirtioRng;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import io.qingtian.virtio.queue.DriverQueue;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * Each device's state record: state → bytes → state is lossless, and a device restored from
 * it answers the guest exactly as the original does from then on (the same reads, in the
 * same order, give the same values, and the IRQ line is driven to the same level).
 */
class DeviceStateTest {
    /** An IRQ line that remembers its level. */
    static final class Line implements IrqLine {
        boolean level;

        @Override
        public void set(boolean asserted) {
            level = asserted;
        }
    }

    private static <T extends DeviceState> T roundTrip(T s, Class<T> kind) {
        byte[] bytes = s.encode();
        DeviceState back = DeviceState.decode("test", bytes);
        assertThat(back).isInstanceOf(kind);
        assertThat(back.encode()).as("re-encoding is identical").isEqualTo(bytes);
        return kind.cast(back);
    }

    /** Runs the same sequence of guest reads on both devices and compares every value. */
    private static void sameReads(BusDevice a, BusDevice b, int[] offsets, int rounds) {
        for (int r = 0; r < rounds; r++) {
            for (int off : offsets) {
                assertThat(b.read(off, 1)).as("round %d, offset %d", r, off).isEqualTo(a.read(off, 1));
            }
        }
    }

    @Test
    void serialWithDataInTheFifoAndHeldBackInputContinuesIdentically() {
        Line irqA = new Line();
        ByteArrayOutputStream outA = new ByteArrayOutputStream();
        Serial16550 a = new Serial16550(irqA, outA);
        a.write(3, 1, 0x83); // DLAB
        a.write(0, 1, 0x01);
        a.write(1, 1, 0x00);
        a.write(3, 1, 0x03); // 8N1
        a.write(2, 1, 0xC1); // FIFO on, trigger 14
        a.write(4, 1, 0x0B); // DTR, RTS, OUT2
        a.write(1, 1, 0x05); // RDI + RLSI
        a.write(7, 1, 0x5A); // scratch
        a.queueInput("the quick brown fox jumps over the lazy dog".getBytes(StandardCharsets.US_ASCII));
        a.read(0, 1);
        a.read(0, 1);
        a.write(0, 1, 'x'); // output before the snapshot
        assertThat(irqA.level).isTrue();

        SerialState s = roundTrip(a.saveState(), SerialState.class);
        assertThat(s.rxFifo()).hasSize(16);
        assertThat(s.hostInput()).hasSize(43 - 16 - 2); // 2 read, refilled from the host queue

        Line irqB = new Line();
        ByteArrayOutputStream outB = new ByteArrayOutputStream();
        Serial16550 b = new Serial16550(irqB, outB);
        b.restoreState(s);
        assertThat(irqB.level).as("pending receive interrupt re-asserted").isTrue();
        sameReads(a, b, new int[] {2, 5, 6, 7, 3, 4, 1}, 1);
        sameReads(a, b, new int[] {5, 0, 2}, 45); // drains FIFO and host queue, IIR each time
        assertThat(irqB.level).isEqualTo(irqA.level).isFalse();
        a.write(0, 1, 'y');
        b.write(0, 1, 'y');
        a.flush();
        b.flush();
        assertThat(outB.toString(StandardCharsets.US_ASCII)).isEqualTo("y");
        a.close();
        b.close();
    }

    @Test
    void rtcKeepsNvramTimeOffsetAndPendingFlags() {
        AtomicLong nanos = new AtomicLong(1_700_000_000_000_000_000L);
        InstantSource clock = () -> Instant.ofEpochSecond(0, nanos.get());
        Line irqA = new Line();
        CmosRtc a = new CmosRtc(200L << 20, 0, irqA, clock);
        a.write(0, 1, 0x0B);
        a.write(1, 1, 0x80 | 0x02); // SET
        a.write(0, 1, 0x09);
        a.write(1, 1, 0x42); // year 42
        a.write(0, 1, 0x0B);
        a.write(1, 1, 0x02 | 0x20); // run, AIE
        a.write(0, 1, 0x01);
        a.write(1, 1, 0xC0); // alarm: any second...
        a.write(0, 1, 0x03);
        a.write(1, 1, 0xC0);
        a.write(0, 1, 0x05);
        a.write(1, 1, 0xC0);
        a.write(0, 1, 0x40);
        a.write(1, 1, 0x77); // an NVRAM byte
        nanos.addAndGet(2_000_000_000L); // alarm fires
        a.write(0, 1, 0x0A);
        a.read(1, 1);
        assertThat(irqA.level).isTrue();

        RtcState s = roundTrip(a.saveState(), RtcState.class);
        Line irqB = new Line();
        CmosRtc b = new CmosRtc(200L << 20, 0, irqB, clock);
        b.restoreState(s);
        assertThat(irqB.level).isTrue();
        for (int reg = 0; reg < 128; reg++) {
            a.write(0, 1, reg);
            b.write(0, 1, reg);
            assertThat(b.read(1, 1)).as("CMOS register 0x%x", reg).isEqualTo(a.read(1, 1));
        }
        assertThat(irqB.level).as("reading C cleared it").isEqualTo(irqA.level).isFalse();
        a.close();
        b.close();
    }

    @Test
    void i8042KeepsItsCommandByteAndQueuedReplies() {
        Line irqA = new Line();
        I8042 a = new I8042(() -> { }, irqA);
        a.write(4, 1, 0x60); // write CTR
        a.write(0, 1, 0x47); // translate, sys, kbd int
        a.write(4, 1, 0x20); // read CTR: a reply waits in the output buffer
        a.write(0, 1, 0xF2); // keyboard: identify (ACK + ID bytes queued)
        I8042State s = roundTrip(a.saveState(), I8042State.class);
        Line irqB = new Line();
        I8042 b = new I8042(() -> { }, irqB);
        b.restoreState(s);
        assertThat(irqB.level).isEqualTo(irqA.level);
        sameReads(a, b, new int[] {4, 0}, 6);
        sameReads(a, b, new int[] {1, 2, 3}, 1);
    }

    @Test
    void acpiPmKeepsRegistersAndItsTimerCountsOnFromTheSavedValue() {
        AtomicLong t1 = new AtomicLong(5_000_000_000L);
        Line sciA = new Line();
        AcpiPm a = new AcpiPm(() -> { }, () -> { }, sciA, t1::get);
        a.write(2, 2, 0x0100); // PWRBTN_EN
        a.write(4, 2, 5 << 10); // SLP_TYP 5, not sleeping
        a.pressPowerButton();
        t1.addAndGet(123_456_789L);
        long timerA = a.read(8, 4);
        AcpiPmState s = roundTrip(a.saveState(), AcpiPmState.class);
        assertThat(s.timerTicks()).isEqualTo(timerA);

        AtomicLong t2 = new AtomicLong(77); // another process: another monotonic origin
        Line sciB = new Line();
        AcpiPm b = new AcpiPm(() -> { }, () -> { }, sciB, t2::get);
        b.restoreState(s);
        assertThat(sciB.level).isTrue();
        assertThat(b.read(8, 4)).isBetween(timerA - 1, timerA);
        t1.addAndGet(1_000_000L);
        t2.addAndGet(1_000_000L);
        assertThat(b.read(8, 4)).isBetween(a.read(8, 4) - 1, a.read(8, 4));
        for (int off = 0; off < 6; off++) {
            assertThat(b.read(off, 1)).as("PM1 byte %d", off).isEqualTo(a.read(off, 1));
        }
    }

    // ---- virtio-pci transport with the in-process virtio-rng ----

    final Arena arena = Arena.ofAuto();
    final MemorySegment ram = arena.allocate(1 << 20, 4096);
    final GuestMemory memory = new GuestMemory(List.of(new GuestRegion(0, ram, -1, 0)));

    private static VirtioPciDevice rngFunction(GuestMemory memory, List<String> msi) {
        VirtioPciDevice pci = new VirtioPciDevice(new VirtioRng(memory), new MsixTable.Listener() {
            @Override
            public void deliver(int vector, MsiMessage m) {
                msi.add(vector + ":" + Long.toHexString(m.address()) + "/" + m.data());
            }

            @Override
            public void routeChanged(int vector, MsiMessage m, boolean usable) {
                msi.add("route " + vector + " " + usable);
            }
        }, level -> { });
        return pci;
    }

    private static void bar(VirtioPciDevice pci, long off, int size, long v) {
        pci.barWrite(pci.bar0(), off, size, v);
    }

    @Test
    void virtioPciTransportWithARunningRngQueueContinuesAtItsRingPosition() throws Exception {
        List<String> msiA = new ArrayList<>();
        VirtioPciDevice a = rngFunction(memory, msiA);
        a.assignBar(0, 0xd000_0000L);
        a.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        int cap = a.config().get8(PciConfigSpace.CAPABILITIES_POINTER);
        while (a.config().get8(cap) != MsixTable.CAP_ID) {
            cap = a.config().get8(cap + 1);
        }
        a.configWrite(cap + 2, 2, MsixTable.CONTROL_ENABLE);
        for (int v = 0; v < 2; v++) {
            bar(a, VirtioPciDevice.MSIX_TABLE + 16L * v, 4, 0xfee0_0000L);
            bar(a, VirtioPciDevice.MSIX_TABLE + 16L * v + 8, 4, 0x30 + v);
            bar(a, VirtioPciDevice.MSIX_TABLE + 16L * v + 12, 4, 0);
        }
        bar(a, 0x14, 1, 1 | 2);
        bar(a, 0x08, 4, 1);
        bar(a, 0x0c, 4, 1); // VERSION_1
        bar(a, 0x14, 1, 1 | 2 | 8);
        bar(a, 0x10, 2, 0);
        DriverQueue q = new DriverQueue(memory, 16, 0x1000, 0x2000, 0x3000, false);
        bar(a, 0x16, 2, 0);
        bar(a, 0x18, 2, 16);
        bar(a, 0x1a, 2, 1);
        bar(a, 0x20, 8, 0x1000);
        bar(a, 0x28, 8, 0x2000);
        bar(a, 0x30, 8, 0x3000);
        bar(a, 0x1c, 2, 1);
        bar(a, 0x14, 1, 1 | 2 | 8 | 4);
        for (int i = 0; i < 3; i++) {
            q.add(new long[] {0x10000 + 0x100L * i}, new int[] {32}, new boolean[] {true}, 1);
        }
        q.publish();
        bar(a, VirtioPciDevice.NOTIFY, 2, 0);
        int[] ids = new int[8];
        int[] lens = new int[8];
        assertThat(q.poll(ids, lens)).isEqualTo(3);

        VirtioPciState s = roundTrip(a.saveState(), VirtioPciState.class);
        assertThat(s.activated()).isTrue();
        assertThat(s.ringBases()).containsExactly(3);

        List<String> msiB = new ArrayList<>();
        VirtioPciDevice b = rngFunction(memory, msiB); // the restored VM: same memory, fresh device
        b.restoreState(s);
        assertThat(msiB).as("every vector's route re-reported, enabled and unmasked")
                .contains("route 0 true", "route 1 true");
        assertThat(b.barAddress(b.bar0())).isEqualTo(0xd000_0000L);
        assertThat(b.activated()).isTrue();
        for (int off = 0; off < 0x38; off += 2) {
            assertThat(b.barRead(b.bar0(), off, 2)).as("common config 0x%x", off).isEqualTo(a.barRead(a.bar0(), off, 2));
        }
        for (int off = 0; off < 0x100; off += 4) {
            assertThat(b.configRead(off, 4)).as("config space 0x%x", off).isEqualTo(a.configRead(off, 4));
        }
        // The driver goes on: the restored device serves the next request at ring position 3.
        q.add(new long[] {0x20000}, new int[] {48}, new boolean[] {true}, 1);
        q.publish();
        msiB.clear();
        bar(b, VirtioPciDevice.NOTIFY, 2, 0);
        assertThat(q.poll(ids, lens)).isEqualTo(1);
        assertThat(lens[0]).isEqualTo(48);
        assertThat(memory.readU16(0x3000 + 2)).as("used index").isEqualTo(4);
        assertThat(msiB).containsExactly("1:fee00000/49");
    }

    @Test
    void restoringIntoADifferentDeviceIsRefusedBeforeAnythingChanges() {
        VirtioPciDevice a = rngFunction(memory, new ArrayList<>());
        VirtioPciState s = a.saveState();
        IntFunction<int[]> bases = n -> {
            int[] b = new int[n];
            java.util.Arrays.fill(b, -1);
            return b;
        };
        VirtioPciState otherType = new VirtioPciState(2, s.config(), false, false, s.msixTable(), s.msixPending(), 0, 0, 0,
                0xffff, 0, 0, 0, 0, false, s.queues(), bases.apply(1));
        VirtioPciDevice b = rngFunction(memory, new ArrayList<>());
        byte[] before = b.config().saveBytes();
        assertThatThrownBy(() -> b.restoreState(otherType)).isInstanceOf(SnapshotException.class)
                .hasMessageContaining("virtio device type 2");
        assertThat(b.config().saveBytes()).isEqualTo(before);
    }
}
