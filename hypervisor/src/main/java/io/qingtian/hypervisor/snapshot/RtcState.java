package io.qingtian.hypervisor.snapshot;

import static io.qingtian.hypervisor.snapshot.DeviceState.check;

import java.util.List;

/**
 * The CMOS RTC / NVRAM ({@code CmosRtc}, MC146818A). Times are the host's wall clock
 * (epoch seconds and nanoseconds), which a restoring process on the same host shares, so
 * the guest's clock keeps its offset to real time and the interrupt flags carry on.
 *
 * @param nvram             the 128 CMOS bytes (time registers hold what the guest last set)
 * @param offsetSeconds     guest time minus host time
 * @param lastUpdateSecond  guest second whose update interrupt was accounted for
 * @param lastPeriodicNanos host time (epoch ns) of the last periodic tick
 */
public record RtcState(byte[] nvram, int index, int regA, int regB, long offsetSeconds, boolean pf, boolean af,
                       boolean uf, long lastUpdateSecond, long lastPeriodicNanos) implements DeviceState {
    public static final int VERSION = 1;
    public static final int NVRAM_SIZE = 128;

    public RtcState {
        check("nvram length", nvram.length, NVRAM_SIZE, NVRAM_SIZE);
        check("index", index, 0, 0x7f);
        check("register A", regA, 0, 0x7f);
        check("register B", regB, 0, 0xff);
        nvram = nvram.clone();
    }

    @Override
    public byte[] nvram() {
        return nvram.clone();
    }

    @Override
    public int kind() {
        return KIND_RTC;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public void encodeBody(StateWriter w) {
        w.bytes(nvram).i32(index).i32(regA).i32(regB).i64(offsetSeconds).bool(pf).bool(af).bool(uf)
                .i64(lastUpdateSecond).i64(lastPeriodicNanos);
    }

    static RtcState decodeBody(StateReader r, int version) {
        DeviceState.requireVersion(r, "rtc", version, List.of(VERSION));
        return new RtcState(r.bytesExactly("nvram", NVRAM_SIZE), r.i32("index"), r.i32("register A"),
                r.i32("register B"), r.i64("offset"), r.bool("pf"), r.bool("af"), r.bool("uf"),
                r.i64("last update"), r.i64("last periodic"));
    }
}
