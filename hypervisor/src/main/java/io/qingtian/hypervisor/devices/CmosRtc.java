package io.qingtian.hypervisor.devices;

import io.qingtian.acpi.LegacyDevices;
import io.qingtian.hypervisor.bus.IrqLine;
import io.qingtian.hypervisor.snapshot.RtcState;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * The PC's CMOS RTC and NVRAM (Motorola MC146818A / Dallas DS12887 register model) at
 * ports 0x70 (index; bit 7, the NMI mask, is ignored) and 0x71 (data).
 *
 * <p>Time is the host clock in UTC plus an offset the guest can change by setting the
 * clock. Registers are encoded per register B: BCD or binary (DM bit), 24- or 12-hour.
 * Register A's update-in-progress bit is set during the last 244 us of each second, as
 * on the real part, so Linux's "wait for UIP to clear, read, check again" loop reads a
 * consistent time and never waits long; register D reports valid RAM and time, which is
 * what rtc_cmos checks before it registers the clock. The century lives at 0x32 (the FADT
 * CENTURY field points there).
 *
 * <p>Update-ended, alarm and periodic flags in register C are derived from elapsed time
 * whenever the guest looks; with an IRQ line, a timer thread (started only once an
 * interrupt is enabled) raises IRQ 8 when an enabled flag sets.
 *
 * <p>NVRAM bytes hold what firmware would store: base memory (0x15-0x16, KiB), extended
 * memory (0x17-0x18 and 0x30-0x31, KiB above 1 MiB, at most 0xFFFF), memory between
 * 16 MiB and 4 GiB (0x34-0x35, 64 KiB units) and above 4 GiB (0x5B-0x5D, 64 KiB units),
 * as SeaBIOS reads them from QEMU.
 */
public final class CmosRtc extends ByteRegisterDevice implements AutoCloseable {
    /** Ports and IRQ as the DSDT describes the RTC ({@link LegacyDevices#RTC}). */
    public static final int PORT_BASE = LegacyDevices.RTC_PORT;
    public static final int PORT_LENGTH = LegacyDevices.RTC_PORT_LENGTH;
    public static final int RTC_IRQ = LegacyDevices.RTC_IRQ;

    static final int INDEX_OFFSET = 0;
    static final int DATA_OFFSET = 1;

    // Clock registers.
    static final int REG_SECONDS = 0x00;
    static final int REG_SECONDS_ALARM = 0x01;
    static final int REG_MINUTES = 0x02;
    static final int REG_MINUTES_ALARM = 0x03;
    static final int REG_HOURS = 0x04;
    static final int REG_HOURS_ALARM = 0x05;
    static final int REG_DAY_OF_WEEK = 0x06;
    static final int REG_DAY_OF_MONTH = 0x07;
    static final int REG_MONTH = 0x08;
    static final int REG_YEAR = 0x09;
    static final int REG_A = 0x0A;
    static final int REG_B = 0x0B;
    static final int REG_C = 0x0C;
    static final int REG_D = 0x0D;
    static final int REG_CENTURY = 0x32;

    // Register A.
    static final int A_UIP = 0x80;
    static final int A_DEFAULT = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
    // Register B.
    static final int B_SET = 0x80;
    static final int B_PIE = 0x40;
    static final int B_AIE = 0x20;
    static final int B_UIE = 0x10;
    static final int B_DM_BINARY = 0x04;
    static final int B_24H = 0x02;
    static final int B_DEFAULT = B_24H; // BCD, 24-hour, as PC firmware sets it
    // Register C.
    static final int C_IRQF = 0x80;
    static final int C_PF = 0x40;
    static final int C_AF = 0x20;
    static final int C_UF = 0x10;
    // Register D.
    static final int D_VRT = 0x80;

    // NVRAM memory-size bytes.
    static final int NV_BASE_MEM_KB = 0x15;
    static final int NV_EXT_MEM_KB = 0x17;
    static final int NV_EXT_MEM_KB_2 = 0x30;
    static final int NV_MEM_ABOVE_16M = 0x34;
    static final int NV_MEM_ABOVE_4G = 0x5B;

    /** UIP rises this long before each update (MC146818A: 244 us). */
    static final long UIP_NANOS = 244_000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private static final int[] TIME_REGISTERS = {
        REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY_OF_MONTH, REG_MONTH, REG_YEAR, REG_CENTURY
    };

    private final IrqLine irq;
    private final InstantSource clock;

    private final int[] nvram = new int[128];
    private int index;
    private int regA = A_DEFAULT;
    private int regB = B_DEFAULT;
    private long offsetSeconds;
    private boolean pf;
    private boolean af;
    private boolean uf;
    private long lastUpdateSecond; // guest second whose update has been accounted for
    private long lastPeriodicNanos;
    private boolean irqLevel;
    private Thread timer;
    private boolean closed;

    /** Contract constructor: host clock, no interrupt line. */
    public CmosRtc(long lowMemBytes, long highMemBytes) {
        this(lowMemBytes, highMemBytes, null, InstantSource.system());
    }

    /**
     * @param lowMemBytes  guest RAM below 4 GiB (including the first MiB)
     * @param highMemBytes guest RAM above 4 GiB
     * @param irq          ISA IRQ 8, or null for none
     * @param clock        the host's time (a fixed or stepped source in tests)
     */
    public CmosRtc(long lowMemBytes, long highMemBytes, IrqLine irq, InstantSource clock) {
        super(PORT_LENGTH);
        if (lowMemBytes < 0 || highMemBytes < 0 || clock == null) {
            throw new IllegalArgumentException("CmosRtc needs non-negative memory sizes and a clock");
        }
        this.irq = irq;
        this.clock = clock;
        setMemorySizes(lowMemBytes, highMemBytes);
        long now = hostNanos();
        lastUpdateSecond = Math.floorDiv(now, NANOS_PER_SECOND);
        lastPeriodicNanos = now;
    }

    private void setMemorySizes(long low, long high) {
        long baseKb = Math.min(low / KIB, 640);
        put16(NV_BASE_MEM_KB, baseKb);
        long extKb = low > MIB ? Math.min((low - MIB) / KIB, 0xFFFF) : 0;
        put16(NV_EXT_MEM_KB, extKb);
        put16(NV_EXT_MEM_KB_2, extKb);
        long above16m = low > 16 * MIB ? Math.min((low - 16 * MIB) / (64 * KIB), 0xFFFF) : 0;
        put16(NV_MEM_ABOVE_16M, above16m);
        long above4g = Math.min(high / (64 * KIB), 0xFF_FFFF);
        nvram[NV_MEM_ABOVE_4G] = (int) (above4g & 0xFF);
        nvram[NV_MEM_ABOVE_4G + 1] = (int) ((above4g >>> 8) & 0xFF);
        nvram[NV_MEM_ABOVE_4G + 2] = (int) ((above4g >>> 16) & 0xFF);
    }

    private void put16(int reg, long v) {
        nvram[reg] = (int) (v & 0xFF);
        nvram[reg + 1] = (int) ((v >>> 8) & 0xFF);
    }

    @Override
    int readRegister(int offset) {
        if (offset == INDEX_OFFSET) {
            return 0xFF; // the index port is write-only
        }
        advance();
        return switch (index) {
            case REG_A -> regA | (uip() ? A_UIP : 0);
            case REG_B -> regB;
            case REG_C -> readC();
            case REG_D -> D_VRT;
            default -> isTimeRegister(index) && (regB & B_SET) == 0 ? encodeField(index, guestTime()) : nvram[index];
        };
    }

    @Override
    void writeRegister(int offset, int value) {
        if (offset == INDEX_OFFSET) {
            index = value & 0x7F; // bit 7 masks NMI on real PCs; nothing to mask here
            return;
        }
        advance();
        switch (index) {
            case REG_A -> regA = value & 0x7F;
            case REG_B -> writeB(value);
            case REG_C, REG_D -> {
                // read-only
            }
            default -> {
                if (isTimeRegister(index)) {
                    writeTime(index, value);
                } else {
                    nvram[index] = value;
                }
            }
        }
        updateIrq();
    }

    private void writeB(int value) {
        boolean wasSet = (regB & B_SET) != 0;
        regB = value;
        if ((value & B_SET) != 0) {
            regB &= ~B_UIE; // SET clears UIE (MC146818A register B)
            if (!wasSet) {
                snapshotTime(); // updates stop; the registers now hold what the guest writes
            }
        } else if (wasSet) {
            commitTime();
        }
        if ((regB & (B_PIE | B_AIE | B_UIE)) != 0) {
            startTimer();
        }
        notifyAll();
    }

    private void writeTime(int reg, int value) {
        if ((regB & B_SET) != 0) {
            nvram[reg] = value;
            return;
        }
        // Setting one field while the clock runs: apply it at once if the result is a date.
        snapshotTime();
        nvram[reg] = value;
        commitTime();
    }

    private void snapshotTime() {
        LocalDateTime now = guestTime();
        for (int reg : TIME_REGISTERS) {
            nvram[reg] = encodeField(reg, now);
        }
    }

    /** Makes the time held in the registers the clock's time; an impossible date is ignored. */
    private void commitTime() {
        LocalDateTime t = decodeTime();
        if (t == null) {
            return;
        }
        long hostSecond = Math.floorDiv(hostNanos(), NANOS_PER_SECOND);
        offsetSeconds = t.toEpochSecond(ZoneOffset.UTC) - hostSecond;
        lastUpdateSecond = hostSecond + offsetSeconds;
    }

    private LocalDateTime decodeTime() {
        int sec = decode(nvram[REG_SECONDS]);
        int min = decode(nvram[REG_MINUTES]);
        int hour = decodeHour(nvram[REG_HOURS]);
        int day = decode(nvram[REG_DAY_OF_MONTH]);
        int month = decode(nvram[REG_MONTH]);
        int year = decode(nvram[REG_YEAR]);
        int century = decode(nvram[REG_CENTURY]);
        if (sec < 0 || min < 0 || hour < 0 || day < 0 || month < 0 || year < 0 || year > 99) {
            return null;
        }
        if (century < 0 || century > 99) {
            century = 20;
        }
        try {
            return LocalDateTime.of(century * 100 + year, month, day, hour, min, sec);
        } catch (DateTimeException e) {
            return null;
        }
    }

    private int readC() {
        int value = (pf ? C_PF : 0) | (af ? C_AF : 0) | (uf ? C_UF : 0) | (irqFlag() ? C_IRQF : 0);
        pf = false;
        af = false;
        uf = false;
        updateIrq();
        return value;
    }

    /** Accounts for the updates, alarms and periodic ticks since the last look. */
    private void advance() {
        long now = hostNanos();
        if ((regB & B_SET) == 0) {
            long second = Math.floorDiv(now, NANOS_PER_SECOND) + offsetSeconds;
            if (second > lastUpdateSecond) {
                uf = true;
                if (second - lastUpdateSecond > 86_400) {
                    af = true; // a whole day passed: every alarm setting has matched
                } else {
                    for (long s = lastUpdateSecond + 1; s <= second && !af; s++) {
                        af = alarmMatches(s);
                    }
                }
            }
            lastUpdateSecond = second;
        }
        long period = periodNanos();
        if (period > 0 && now - lastPeriodicNanos >= period) {
            pf = true;
            lastPeriodicNanos = now - Math.floorMod(now - lastPeriodicNanos, period);
        } else if (period == 0) {
            lastPeriodicNanos = now;
        }
        updateIrq();
    }

    private boolean alarmMatches(long epochSecond) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(epochSecond, 0, ZoneOffset.UTC);
        return alarmField(REG_SECONDS_ALARM, REG_SECONDS, t)
                && alarmField(REG_MINUTES_ALARM, REG_MINUTES, t)
                && alarmField(REG_HOURS_ALARM, REG_HOURS, t);
    }

    private boolean alarmField(int alarmReg, int timeReg, LocalDateTime t) {
        int alarm = nvram[alarmReg];
        return (alarm & 0xC0) == 0xC0 || alarm == encodeField(timeReg, t); // 11xxxxxx: "don't care"
    }

    /** Periodic interrupt period from register A's rate select, or 0 when off. */
    private long periodNanos() {
        int rate = regA & 0x0F;
        if (rate == 0) {
            return 0;
        }
        int shift = rate <= 2 ? rate + 6 : rate - 1; // rates 1 and 2 alias 8 and 9 (256/128 Hz)
        return NANOS_PER_SECOND / (32768 >> shift);
    }

    private boolean irqFlag() {
        return (pf && (regB & B_PIE) != 0) || (af && (regB & B_AIE) != 0) || (uf && (regB & B_UIE) != 0);
    }

    private void updateIrq() {
        if (irq == null) {
            return;
        }
        boolean level = irqFlag();
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    private boolean uip() {
        if ((regB & B_SET) != 0) {
            return false;
        }
        return Math.floorMod(hostNanos(), NANOS_PER_SECOND) >= NANOS_PER_SECOND - UIP_NANOS;
    }

    private LocalDateTime guestTime() {
        long second = Math.floorDiv(hostNanos(), NANOS_PER_SECOND) + offsetSeconds;
        return LocalDateTime.ofEpochSecond(second, 0, ZoneOffset.UTC);
    }

    private int encodeField(int reg, LocalDateTime t) {
        return switch (reg) {
            case REG_SECONDS -> encode(t.getSecond());
            case REG_MINUTES -> encode(t.getMinute());
            case REG_HOURS -> encodeHour(t.getHour());
            case REG_DAY_OF_WEEK -> encode(t.getDayOfWeek().getValue() % 7 + 1); // Sunday = 1
            case REG_DAY_OF_MONTH -> encode(t.getDayOfMonth());
            case REG_MONTH -> encode(t.getMonthValue());
            case REG_YEAR -> encode(t.getYear() % 100);
            case REG_CENTURY -> encode(t.getYear() / 100);
            default -> nvram[reg];
        };
    }

    private int encode(int v) {
        return (regB & B_DM_BINARY) != 0 ? v : ((v / 10) << 4) | (v % 10);
    }

    private int encodeHour(int hour) {
        if ((regB & B_24H) != 0) {
            return encode(hour);
        }
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return encode(h12) | (hour >= 12 ? 0x80 : 0);
    }

    /** Decodes a BCD or binary field; -1 for an invalid BCD digit. */
    private int decode(int v) {
        if ((regB & B_DM_BINARY) != 0) {
            return v;
        }
        int hi = v >>> 4;
        int lo = v & 0x0F;
        return hi > 9 || lo > 9 ? -1 : hi * 10 + lo;
    }

    private int decodeHour(int v) {
        if ((regB & B_24H) != 0) {
            return decode(v);
        }
        int h = decode(v & 0x7F);
        if (h < 1 || h > 12) {
            return -1;
        }
        return h % 12 + ((v & 0x80) != 0 ? 12 : 0);
    }

    private static boolean isTimeRegister(int reg) {
        for (int r : TIME_REGISTERS) {
            if (r == reg) {
                return true;
            }
        }
        return false;
    }

    private long hostNanos() {
        Instant now = clock.instant();
        return now.getEpochSecond() * NANOS_PER_SECOND + now.getNano();
    }

    // ---------------------------------------------------------------- interrupt timer

    private void startTimer() {
        if (irq == null || timer != null || closed) {
            return;
        }
        timer = Thread.ofVirtual().name("cmos-rtc-timer").start(this::timerLoop);
    }

    /** Sleeps until the next enabled event (update, alarm check, periodic tick) and raises it. */
    private synchronized void timerLoop() {
        while (!closed) {
            long wait = nanosToNextEvent();
            try {
                if (wait < 0) {
                    wait();
                } else {
                    wait(Math.max(1, wait / 1_000_000), (int) (wait % 1_000_000));
                }
            } catch (InterruptedException e) {
                return;
            }
            advance();
        }
    }

    private long nanosToNextEvent() {
        if ((regB & (B_PIE | B_AIE | B_UIE)) == 0) {
            return -1;
        }
        long now = hostNanos();
        long next = Long.MAX_VALUE;
        if ((regB & (B_AIE | B_UIE)) != 0 && (regB & B_SET) == 0) {
            next = NANOS_PER_SECOND - Math.floorMod(now, NANOS_PER_SECOND);
        }
        long period = periodNanos();
        if ((regB & B_PIE) != 0 && period > 0) {
            next = Math.min(next, Math.max(0, lastPeriodicNanos + period - now));
        }
        return next == Long.MAX_VALUE ? -1 : next;
    }

    /** Stops the interrupt timer thread, if one runs. */
    @Override
    public synchronized void close() {
        closed = true;
        notifyAll();
    }

    // ---- snapshot (issue 8) ----

    /** The RTC's state for a snapshot; pending flags are brought up to date first. */
    public synchronized RtcState saveState() {
        advance();
        byte[] nv = new byte[nvram.length];
        for (int i = 0; i < nv.length; i++) {
            nv[i] = (byte) nvram[i];
        }
        return new RtcState(nv, index, regA, regB, offsetSeconds, pf, af, uf, lastUpdateSecond, lastPeriodicNanos);
    }

    /** Takes over a saved state; restarts the interrupt timer if the guest had interrupts enabled. */
    public synchronized void restoreState(RtcState s) {
        byte[] nv = s.nvram();
        for (int i = 0; i < nv.length; i++) {
            nvram[i] = nv[i] & 0xff;
        }
        index = s.index();
        regA = s.regA();
        regB = s.regB();
        offsetSeconds = s.offsetSeconds();
        pf = s.pf();
        af = s.af();
        uf = s.uf();
        lastUpdateSecond = s.lastUpdateSecond();
        lastPeriodicNanos = s.lastPeriodicNanos();
        irqLevel = false;
        updateIrq();
        if ((regB & (B_PIE | B_AIE | B_UIE)) != 0) {
            startTimer();
        }
        notifyAll();
    }
}
