package io.qingtian.hypervisor.devices;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.bus.BusDevice;
import java.io.OutputStream;
import java.time.Instant;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Whatever a guest does with the ports (odd widths, offsets past the range, negative or
 * huge offsets, garbage values, any order), no device throws, and the invariants Linux
 * relies on hold afterwards.
 */
class HostileAccessTest {

    record Access(boolean write, long offset, int size, long value) {}

    @Provide
    Arbitrary<List<Access>> accesses() {
        Arbitrary<Long> offsets = Arbitraries.oneOf(
                Arbitraries.longs().between(-2, 20),
                Arbitraries.longs(),
                Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE - 3));
        Arbitrary<Integer> sizes = Arbitraries.oneOf(
                Arbitraries.of(1, 2, 4, 8),
                Arbitraries.integers().between(-3, 17),
                Arbitraries.of(Integer.MIN_VALUE, Integer.MAX_VALUE));
        return Combinators.combine(Arbitraries.of(true, false), offsets, sizes, Arbitraries.longs())
                .as(Access::new).list().ofMaxSize(300);
    }

    private static void replay(BusDevice d, List<Access> accesses) {
        for (Access a : accesses) {
            if (a.write()) {
                d.write(a.offset(), a.size(), a.value());
            } else {
                long v = d.read(a.offset(), a.size());
                int n = Math.clamp(a.size(), 0, 8);
                if (n < 8) {
                    assertThat(v >>> (8 * n)).as("no bits beyond the access width").isZero();
                }
            }
        }
    }

    @Property(tries = 300)
    void serialSurvivesAnything(@ForAll("accesses") List<Access> accesses,
            @ForAll @Size(max = 40) List<Byte> input) {
        try (Serial16550 uart = new Serial16550(new RecordingIrq(), OutputStream.nullOutputStream())) {
            byte[] in = new byte[input.size()];
            for (int i = 0; i < in.length; i++) {
                in[i] = input.get(i);
            }
            uart.queueInput(in);
            replay(uart, accesses);
            int lsr = (int) uart.read(Serial16550.LSR, 1);
            assertThat(lsr).isNotEqualTo(0xFF);
            assertThat(lsr & (Serial16550.LSR_THRE | Serial16550.LSR_TEMT))
                    .isEqualTo(Serial16550.LSR_THRE | Serial16550.LSR_TEMT);
        }
    }

    @Property(tries = 300)
    void keyboardControllerSurvivesAnything(@ForAll("accesses") List<Access> accesses) {
        I8042 kbc = new I8042(() -> {}, new RecordingIrq());
        replay(kbc, accesses);
        assertThat(kbc.read(I8042.COMMAND_OFFSET, 1)).isNotEqualTo(0xFF);
        // Still answers the self-test after whatever came before.
        kbc.read(I8042.DATA_OFFSET, 1);
        while ((kbc.read(I8042.COMMAND_OFFSET, 1) & I8042.STR_OBF) != 0) {
            kbc.read(I8042.DATA_OFFSET, 1);
        }
        kbc.write(I8042.COMMAND_OFFSET, 1, I8042.CMD_SELF_TEST);
        assertThat(kbc.read(I8042.DATA_OFFSET, 1)).isEqualTo(I8042.SELF_TEST_OK);
    }

    @Property(tries = 300)
    void rtcSurvivesAnything(@ForAll("accesses") List<Access> accesses) {
        try (CmosRtc rtc = new CmosRtc(512L << 20, 1L << 30, new RecordingIrq(),
                () -> Instant.parse("2026-11-26T05:17:42Z"))) {
            replay(rtc, accesses);
            rtc.write(CmosRtc.INDEX_OFFSET, 1, CmosRtc.REG_D);
            assertThat(rtc.read(CmosRtc.DATA_OFFSET, 1)).isEqualTo(CmosRtc.D_VRT);
        }
    }

    @Property(tries = 300)
    void pmBlockSurvivesAnything(@ForAll("accesses") List<Access> accesses) {
        AcpiPm pm = new AcpiPm(() -> {}, () -> {}, new RecordingIrq(), System::nanoTime);
        replay(pm, accesses);
        assertThat(pm.read(AcpiPm.PM1A_CNT_OFFSET, 2) & AcpiPm.SCI_EN).isEqualTo(AcpiPm.SCI_EN);
    }
}
