package io.qingtian.hypervisor.devices;

import static io.qingtian.hypervisor.devices.AcpiPm.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.acpi.Aml;
import io.qingtian.acpi.AmlWriter;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The PM1 block as ACPICA's acpi_hw_legacy_sleep and acpi_reset drive it. */
class AcpiPmTest {
    private final AtomicInteger powerOffs = new AtomicInteger();
    private final AtomicInteger resets = new AtomicInteger();
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final RecordingIrq sci = new RecordingIrq();
    private final AcpiPm pm = new AcpiPm(powerOffs::incrementAndGet, resets::incrementAndGet, sci, nanos::get);

    @Test
    void enteringS5PowersOffLikeAcpiHwLegacySleep() {
        // Clear WAK_STS, write SLP_TYP alone, then SLP_TYP | SLP_EN (ACPICA's sequence).
        pm.write(PM1A_EVT_OFFSET, 2, WAK_STS);
        int cnt = (int) pm.read(PM1A_CNT_OFFSET, 2);
        int typ = (cnt & ~(SLP_TYP_MASK | SLP_EN)) | (SLP_TYP_S5 << SLP_TYP_SHIFT);
        pm.write(PM1A_CNT_OFFSET, 2, typ);
        assertThat(powerOffs).hasValue(0);
        pm.write(PM1A_CNT_OFFSET, 2, typ | SLP_EN);
        assertThat(powerOffs).hasValue(1);
        assertThat(resets).hasValue(0);
    }

    @Test
    void slpEnInTheHighByteAloneIsEnough() {
        pm.write(PM1A_CNT_OFFSET + 1, 1, (SLP_EN | (SLP_TYP_S5 << SLP_TYP_SHIFT)) >> 8);
        assertThat(powerOffs).hasValue(1);
    }

    @Test
    void otherSleepTypesDoNotPowerOff() {
        pm.write(PM1A_CNT_OFFSET, 2, SLP_EN | (1 << SLP_TYP_SHIFT));
        pm.write(PM1A_CNT_OFFSET, 2, SLP_EN);
        pm.write(PM1A_CNT_OFFSET, 2, SLP_TYP_S5 << SLP_TYP_SHIFT);
        assertThat(powerOffs).hasValue(0);
    }

    @Test
    void theS5PackageCarriesTheSleepTypeThatPowersOff() {
        byte[] aml = new AmlWriter().append(pm).toByteArray();
        byte[] expected = new AmlWriter().name("\\_S5_", Aml.pkg(Aml.integer(SLP_TYP_S5), Aml.integer(SLP_TYP_S5),
                Aml.ZERO, Aml.ZERO)).toByteArray();
        assertThat(aml).containsExactly(expected);
        // The first package element, after NameOp, "\_S5_", PackageOp, PkgLength, count, BytePrefix.
        assertThat(aml[9]).isEqualTo((byte) 0x0A);
        assertThat(aml[10]).isEqualTo((byte) SLP_TYP_S5);
    }

    @Test
    void resetRegisterResetsOnlyOnTheResetValue() {
        pm.write(RESET_REG_OFFSET, 1, 0x01);
        assertThat(resets).hasValue(0);
        pm.write(RESET_REG_OFFSET, 1, RESET_VALUE);
        assertThat(resets).hasValue(1);
        assertThat(powerOffs).hasValue(0);
    }

    @Test
    void sciEnReadsOneAndWriteOnlyBitsReadZero() {
        assertThat(pm.read(PM1A_CNT_OFFSET, 2) & SCI_EN).isEqualTo(SCI_EN);
        pm.write(PM1A_CNT_OFFSET, 2, 0);
        assertThat(pm.read(PM1A_CNT_OFFSET, 2) & SCI_EN).isEqualTo(SCI_EN);
        pm.write(PM1A_CNT_OFFSET, 2, GBL_RLS | (3 << SLP_TYP_SHIFT));
        long cnt = pm.read(PM1A_CNT_OFFSET, 2);
        assertThat(cnt & (GBL_RLS | SLP_EN)).isZero();
        assertThat(pm.slpTyp()).isEqualTo(3);
    }

    @Test
    void powerButtonRaisesSciUntilStatusIsCleared() {
        pm.pressPowerButton();
        assertThat(sci.level()).as("not enabled yet").isFalse();
        assertThat(pm.read(PM1A_EVT_OFFSET, 2) & PWRBTN_STS).isNotZero();
        pm.write(PM1A_EVT_OFFSET + 2, 2, PWRBTN_STS); // PM1_EN.PWRBTN_EN
        assertThat(sci.level()).isTrue();
        assertThat(pm.read(PM1A_EVT_OFFSET + 2, 2)).isEqualTo(PWRBTN_STS);
        pm.write(PM1A_EVT_OFFSET, 2, PWRBTN_STS); // write 1 to clear
        assertThat(sci.level()).isFalse();
        assertThat(pm.read(PM1A_EVT_OFFSET, 2) & PWRBTN_STS).isZero();
    }

    @Test
    void statusBitsClearOnlyWhereOnesAreWritten() {
        pm.pressPowerButton();
        pm.write(PM1A_EVT_OFFSET, 2, TMR_STS);
        assertThat(pm.read(PM1A_EVT_OFFSET, 2) & PWRBTN_STS).isNotZero();
        // A 32-bit write over the whole event block: status bytes clear, enable bytes set.
        pm.write(PM1A_EVT_OFFSET, 4, ((long) GBL_STS << 16) | PWRBTN_STS);
        assertThat(pm.read(PM1A_EVT_OFFSET, 4)).isEqualTo((long) GBL_STS << 16);
    }

    @Test
    void pmTimerCountsAt3579545HzAndWrapsAt32Bits() {
        long t0 = pm.read(PM_TMR_OFFSET, 4);
        assertThat(t0).isZero();
        nanos.addAndGet(1_000_000_000L);
        assertThat(pm.read(PM_TMR_OFFSET, 4)).isEqualTo(PM_TIMER_HZ);
        nanos.addAndGet(1_000L); // 1 us = 3.58 ticks
        assertThat(pm.read(PM_TMR_OFFSET, 4)).isEqualTo(PM_TIMER_HZ + 3);
        // After 2^32 ticks (about 20 minutes) the counter wraps, and stays exact for days.
        nanos.set(1_000_000_000L + 86_400L * 1_000_000_000L);
        long expected = (86_400L * PM_TIMER_HZ) & 0xFFFF_FFFFL;
        assertThat(pm.read(PM_TMR_OFFSET, 4)).isEqualTo(expected);
        // Byte-wise reads see the same counter (one sample per access).
        assertThat(pm.read(PM_TMR_OFFSET + 2, 2)).isEqualTo(expected >>> 16);
        assertThat(pm.read(PM_TMR_OFFSET + 3, 1)).isEqualTo(expected >>> 24);
        // Writes do nothing.
        pm.write(PM_TMR_OFFSET, 4, 0);
        assertThat(pm.read(PM_TMR_OFFSET, 4)).isEqualTo(expected);
    }

    @Test
    void contractConstructorUsesTheRealClock() {
        AcpiPm real = new AcpiPm(() -> {}, () -> {});
        long a = real.read(PM_TMR_OFFSET, 4);
        long deadline = System.nanoTime() + 5_000_000_000L;
        long b = a;
        while (b == a && System.nanoTime() < deadline) {
            b = real.read(PM_TMR_OFFSET, 4);
        }
        assertThat(b).isNotEqualTo(a);
    }
}
