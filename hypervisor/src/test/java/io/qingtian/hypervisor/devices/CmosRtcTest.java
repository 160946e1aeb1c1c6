package io.qingtian.hypervisor.devices;

import static io.qingtian.hypervisor.devices.CmosRtc.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** CMOS time, status registers and memory bytes, against a clock the test controls. */
class CmosRtcTest {
    private static final long MIB = 1024 * 1024;
    /** Thursday 2026-11-26 05:17:42.25 UTC. */
    private static final Instant T0 = Instant.parse("2026-11-26T05:17:42.250Z");

    private final AtomicReference<Instant> now = new AtomicReference<>(T0);
    private final InstantSource clock = now::get;

    private static int reg(CmosRtc rtc, int index) {
        rtc.write(INDEX_OFFSET, 1, index);
        return (int) rtc.read(DATA_OFFSET, 1);
    }

    private static void setReg(CmosRtc rtc, int index, int value) {
        rtc.write(INDEX_OFFSET, 1, index);
        rtc.write(DATA_OFFSET, 1, value);
    }

    private void advance(Duration d) {
        now.updateAndGet(t -> t.plus(d));
    }

    @Test
    void readsTheHostTimeInBcd24Hour() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        assertThat(reg(rtc, REG_SECONDS)).isEqualTo(0x42);
        assertThat(reg(rtc, REG_MINUTES)).isEqualTo(0x17);
        assertThat(reg(rtc, REG_HOURS)).isEqualTo(0x05);
        assertThat(reg(rtc, REG_DAY_OF_WEEK)).isEqualTo(5); // Sunday = 1, so Thursday = 5
        assertThat(reg(rtc, REG_DAY_OF_MONTH)).isEqualTo(0x26);
        assertThat(reg(rtc, REG_MONTH)).isEqualTo(0x11);
        assertThat(reg(rtc, REG_YEAR)).isEqualTo(0x26);
        assertThat(reg(rtc, REG_CENTURY)).isEqualTo(0x20);
        advance(Duration.ofSeconds(20));
        assertThat(reg(rtc, REG_SECONDS)).isEqualTo(0x02);
        assertThat(reg(rtc, REG_MINUTES)).isEqualTo(0x18);
    }

    @Test
    void decodesToTheSystemClockWithTheRealHostTime() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0);
        // Read like Linux's mc146818_get_time: retry if a second boundary slipped in between.
        LocalDateTime read;
        LocalDateTime host;
        do {
            host = LocalDateTime.now(ZoneOffset.UTC).withNano(0);
            read = LocalDateTime.of(bcd(reg(rtc, REG_CENTURY)) * 100 + bcd(reg(rtc, REG_YEAR)),
                    bcd(reg(rtc, REG_MONTH)), bcd(reg(rtc, REG_DAY_OF_MONTH)), bcd(reg(rtc, REG_HOURS)),
                    bcd(reg(rtc, REG_MINUTES)), bcd(reg(rtc, REG_SECONDS)));
        } while (!LocalDateTime.now(ZoneOffset.UTC).withNano(0).equals(host));
        assertThat(read).isEqualTo(host);
    }

    private static int bcd(int v) {
        return (v >> 4) * 10 + (v & 0xF);
    }

    @Test
    void binaryAnd12HourModesFollowRegisterB() {
        now.set(Instant.parse("2026-11-26T17:05:09Z"));
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        setReg(rtc, REG_B, B_24H | B_DM_BINARY);
        assertThat(reg(rtc, REG_HOURS)).isEqualTo(17);
        assertThat(reg(rtc, REG_SECONDS)).isEqualTo(9);
        assertThat(reg(rtc, REG_YEAR)).isEqualTo(26);
        setReg(rtc, REG_B, 0); // BCD, 12-hour
        assertThat(reg(rtc, REG_HOURS)).isEqualTo(0x80 | 0x05); // 5 PM
        now.set(Instant.parse("2026-11-26T00:30:00Z"));
        assertThat(reg(rtc, REG_HOURS)).isEqualTo(0x12); // 12 AM
    }

    @Test
    void statusRegistersLetRtcCmosProbeAtOnce() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        assertThat(reg(rtc, REG_D)).isEqualTo(D_VRT); // valid RAM and time; bit 6 clear
        assertThat(reg(rtc, REG_A)).isEqualTo(A_DEFAULT); // no update in progress
        assertThat(reg(rtc, REG_B)).isEqualTo(B_DEFAULT);
        now.set(Instant.parse("2026-11-26T05:17:42.999900Z"));
        assertThat(reg(rtc, REG_A) & A_UIP).as("UIP in the last 244 us before an update").isNotZero();
        now.set(Instant.parse("2026-11-26T05:17:43.000100Z"));
        assertThat(reg(rtc, REG_A) & A_UIP).isZero();
    }

    @Test
    void nmiMaskBitInTheIndexIsIgnored() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        assertThat(reg(rtc, 0x80 | REG_SECONDS)).isEqualTo(0x42);
        assertThat(reg(rtc, 0x80 | REG_D)).isEqualTo(D_VRT);
    }

    @Test
    void memoryBytesAreWhatFirmwareWouldStore() {
        CmosRtc small = new CmosRtc(256 * MIB, 0, null, clock);
        assertThat(reg(small, NV_BASE_MEM_KB) | reg(small, NV_BASE_MEM_KB + 1) << 8).isEqualTo(640);
        assertThat(reg(small, NV_EXT_MEM_KB) | reg(small, NV_EXT_MEM_KB + 1) << 8).isEqualTo(0xFFFF);
        assertThat(reg(small, NV_EXT_MEM_KB_2) | reg(small, NV_EXT_MEM_KB_2 + 1) << 8).isEqualTo(0xFFFF);
        assertThat(reg(small, NV_MEM_ABOVE_16M) | reg(small, NV_MEM_ABOVE_16M + 1) << 8)
                .isEqualTo((int) ((256 - 16) * MIB / 65536));
        assertThat(reg(small, NV_MEM_ABOVE_4G) | reg(small, NV_MEM_ABOVE_4G + 1) << 8
                | reg(small, NV_MEM_ABOVE_4G + 2) << 16).isZero();

        CmosRtc big = new CmosRtc(3072 * MIB, 5L * 1024 * MIB, null, clock);
        assertThat(reg(big, 0x34)).isEqualTo(0x00);
        assertThat(reg(big, 0x35)).isEqualTo(0xBF); // (3 GiB - 16 MiB) / 64 KiB = 0xBF00
        assertThat(reg(big, 0x5B)).isEqualTo(0x00);
        assertThat(reg(big, 0x5C)).isEqualTo(0x40); // 5 GiB / 64 KiB = 0x014000
        assertThat(reg(big, 0x5D)).isEqualTo(0x01);

        CmosRtc tiny = new CmosRtc(8 * MIB, 0, null, clock);
        assertThat(reg(tiny, NV_EXT_MEM_KB) | reg(tiny, NV_EXT_MEM_KB + 1) << 8).isEqualTo(7 * 1024);
        assertThat(reg(tiny, 0x34) | reg(tiny, 0x35)).isZero();
    }

    @Test
    void guestSetsTheClockWithTheSetBit() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        // Linux mc146818_set_time: SET on, write the fields, SET off.
        setReg(rtc, REG_B, B_DEFAULT | B_SET);
        setReg(rtc, REG_YEAR, 0x30);
        setReg(rtc, REG_MONTH, 0x02); // on the way through, day 26 of February is still valid
        setReg(rtc, REG_DAY_OF_MONTH, 0x29); // 2030 is not a leap year, but SET holds raw values
        setReg(rtc, REG_DAY_OF_MONTH, 0x28);
        setReg(rtc, REG_HOURS, 0x23);
        setReg(rtc, REG_MINUTES, 0x59);
        setReg(rtc, REG_SECONDS, 0x58);
        advance(Duration.ofSeconds(5)); // frozen while SET is on
        assertThat(reg(rtc, REG_SECONDS)).isEqualTo(0x58);
        setReg(rtc, REG_B, B_DEFAULT);
        advance(Duration.ofSeconds(3));
        assertThat(reg(rtc, REG_SECONDS)).isEqualTo(0x01);
        assertThat(reg(rtc, REG_MINUTES)).isEqualTo(0x00);
        assertThat(reg(rtc, REG_HOURS)).isEqualTo(0x00);
        assertThat(reg(rtc, REG_DAY_OF_MONTH)).isEqualTo(0x01);
        assertThat(reg(rtc, REG_MONTH)).isEqualTo(0x03);
        assertThat(reg(rtc, REG_YEAR)).isEqualTo(0x30);
    }

    @Test
    void anImpossibleDateLeavesTheClockAlone() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        setReg(rtc, REG_B, B_DEFAULT | B_SET);
        setReg(rtc, REG_MONTH, 0x13);
        setReg(rtc, REG_SECONDS, 0xFA); // not BCD
        setReg(rtc, REG_B, B_DEFAULT);
        assertThat(reg(rtc, REG_MONTH)).isEqualTo(0x11);
        assertThat(reg(rtc, REG_SECONDS)).isEqualTo(0x42);
        setReg(rtc, REG_HOURS, 0x99); // while running, too
        assertThat(reg(rtc, REG_HOURS)).isEqualTo(0x05);
    }

    @Test
    void registerCReportsUpdateAlarmAndPeriodicFlagsAndClearsOnRead() {
        RecordingIrq irq = new RecordingIrq();
        try (CmosRtc rtc = new CmosRtc(256 * MIB, 0, irq, clock)) {
            assertThat(reg(rtc, REG_C)).isZero();
            advance(Duration.ofSeconds(1));
            // Flags set whether or not their interrupt is enabled (PF too: register A's rate is 1024 Hz).
            assertThat(reg(rtc, REG_C)).isEqualTo(C_UF | C_PF);
            assertThat(reg(rtc, REG_C)).isZero();
            assertThat(irq.level()).isFalse();

            // Alarm at 05:17:50, interrupt enabled.
            setReg(rtc, REG_SECONDS_ALARM, 0x50);
            setReg(rtc, REG_MINUTES_ALARM, 0x17);
            setReg(rtc, REG_HOURS_ALARM, 0xC0); // "don't care"
            setReg(rtc, REG_B, B_DEFAULT | B_AIE);
            advance(Duration.ofSeconds(3)); // 05:17:46
            assertThat(reg(rtc, REG_C) & C_AF).isZero();
            advance(Duration.ofSeconds(5)); // 05:17:51: the alarm second went by
            // (The line's level is not asserted here: the timer thread wakes on the real clock
            // and may or may not have looked at the advanced test clock yet.)
            int c = reg(rtc, REG_C);
            assertThat(c & (C_AF | C_IRQF)).isEqualTo(C_AF | C_IRQF);
            assertThat(irq.risingEdges()).isGreaterThanOrEqualTo(1);
            assertThat(irq.level()).as("reading C deasserts the interrupt").isFalse();

            // Periodic flag at 1024 Hz.
            setReg(rtc, REG_B, B_DEFAULT);
            reg(rtc, REG_C);
            advance(Duration.ofMillis(2));
            assertThat(reg(rtc, REG_C) & C_PF).isNotZero();
            setReg(rtc, REG_A, 0x20); // rate 0: periodic off
            advance(Duration.ofMillis(2));
            assertThat(reg(rtc, REG_C) & C_PF).isZero();
        }
    }

    @Test
    void updateInterruptFiresOnItsOwnWithTheRealClock() throws Exception {
        RecordingIrq irq = new RecordingIrq();
        try (CmosRtc rtc = new CmosRtc(256 * MIB, 0, irq, InstantSource.system())) {
            reg(rtc, REG_C);
            setReg(rtc, REG_B, B_DEFAULT | B_UIE);
            // No guest access from here on: the timer thread must raise IRQ 8 at the next
            // second boundary. (A generous bound: this checks behaviour, not latency.)
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!irq.level() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(irq.level()).isTrue();
            assertThat(reg(rtc, REG_C) & (C_IRQF | C_UF)).isEqualTo(C_IRQF | C_UF);
            assertThat(irq.level()).isFalse();
        }
    }

    @Test
    void setBitClearsUpdateInterruptEnable() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        setReg(rtc, REG_B, B_DEFAULT | B_UIE);
        assertThat(reg(rtc, REG_B) & B_UIE).isNotZero();
        setReg(rtc, REG_B, B_DEFAULT | B_UIE | B_SET);
        assertThat(reg(rtc, REG_B) & B_UIE).isZero();
    }

    @Test
    void nvramBytesKeepWhatTheGuestWrites() {
        CmosRtc rtc = new CmosRtc(256 * MIB, 0, null, clock);
        setReg(rtc, 0x40, 0xA5);
        setReg(rtc, 0x7F, 0x5A);
        assertThat(reg(rtc, 0x40)).isEqualTo(0xA5);
        assertThat(reg(rtc, 0x7F)).isEqualTo(0x5A);
        setReg(rtc, REG_D, 0x00); // read-only
        assertThat(reg(rtc, REG_D)).isEqualTo(D_VRT);
        // A 16-bit OUT to 0x70 writes index then data, as the ISA bus splits it.
        rtc.write(INDEX_OFFSET, 2, 0x3341);
        assertThat(reg(rtc, 0x41)).isEqualTo(0x33);
    }
}
