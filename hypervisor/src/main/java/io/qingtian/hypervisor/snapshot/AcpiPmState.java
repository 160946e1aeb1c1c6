package io.qingtian.hypervisor.snapshot;

import static io.qingtian.hypervisor.snapshot.DeviceState.check;

import java.util.List;

/**
 * The ACPI PM1a event/control block and PM timer ({@code AcpiPm}). The timer is stored as
 * its value at the snapshot; the restored device counts on from there (its clock is the
 * host's monotonic clock, which does not survive a process).
 *
 * @param timerTicks the 24/32-bit PM timer's value (3.579545 MHz ticks, modulo 2^32)
 */
public record AcpiPmState(int pm1Sts, int pm1En, int pm1Cnt, long timerTicks) implements DeviceState {
    public static final int VERSION = 1;

    public AcpiPmState {
        check("PM1_STS", pm1Sts, 0, 0xffff);
        check("PM1_EN", pm1En, 0, 0xffff);
        check("PM1_CNT", pm1Cnt, 0, 0xffff);
        if (timerTicks < 0 || timerTicks > 0xffff_ffffL) {
            throw new IllegalArgumentException("PM timer " + timerTicks + " is outside 32 bits");
        }
    }

    @Override
    public int kind() {
        return KIND_ACPI_PM;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public void encodeBody(StateWriter w) {
        w.i32(pm1Sts).i32(pm1En).i32(pm1Cnt).i64(timerTicks);
    }

    static AcpiPmState decodeBody(StateReader r, int version) {
        DeviceState.requireVersion(r, "acpi-pm", version, List.of(VERSION));
        return new AcpiPmState(r.i32("PM1_STS"), r.i32("PM1_EN"), r.i32("PM1_CNT"), r.i64("PM timer"));
    }
}
