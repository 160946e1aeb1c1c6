package io.qingtian.hypervisor.devices;

import io.qingtian.acpi.AmlSource;
import io.qingtian.acpi.AmlWriter;
import io.qingtian.acpi.PmBlock;
import io.qingtian.hypervisor.bus.BusDevice;
import io.qingtian.hypervisor.bus.IrqLine;
import io.qingtian.hypervisor.snapshot.AcpiPmState;
import java.util.function.LongSupplier;

/**
 * The ACPI fixed-hardware power-management block (ACPI 6.4 section 4.8, "ACPI Hardware
 * Specification"): PM1a event and control registers, the PM timer and the reset register,
 * in one I/O range at {@link #PORT_BASE} (0x600, where QEMU's q35 puts its PM base):
 *
 * <pre>
 *   +0x0  PM1a_EVT_BLK  PM1_STS (16 bits, write 1 to clear), PM1_EN (16 bits)
 *   +0x4  PM1a_CNT_BLK  PM1_CNT (16 bits): SCI_EN, SLP_TYP, SLP_EN
 *   +0x8  PM_TMR_BLK    32-bit 3.579545 MHz counter (FADT TMR_VAL_EXT)
 *   +0xC  RESET_REG     write {@link #RESET_VALUE} to reset the machine
 * </pre>
 *
 * Writing SLP_EN with SLP_TYP = {@link #SLP_TYP_S5} (the value in the {@code \_S5_}
 * package this class emits) calls {@code powerOff}; that is Linux's acpi_power_off.
 * Writing the reset value calls {@code reset}; Linux's default reboot tries this first.
 * Both callbacks run on the vCPU thread that did the write.
 *
 * <p>The platform is always in ACPI mode (the FADT has no SMI_CMD), so SCI_EN reads 1.
 * With an SCI line, {@link #pressPowerButton()} sets PWRBTN_STS and raises the SCI if the
 * OS enabled it (level-triggered, like the MADT's IRQ 9 override says).
 *
 * <p>Accesses of any width are accepted; each byte of the access lands on the register
 * byte at that offset, SLP_EN acts once the whole access is applied.
 */
public final class AcpiPm implements BusDevice, AmlSource {
    // The register layout is the one the FADT describes ({@link PmBlock}, in the acpi module).
    public static final int PORT_BASE = PmBlock.PORT_BASE;
    public static final int PORT_LENGTH = PmBlock.PORT_LENGTH;

    public static final int PM1A_EVT_OFFSET = PmBlock.PM1A_EVT_OFFSET;
    public static final int PM1_EVT_LEN = PmBlock.PM1_EVT_LEN;
    public static final int PM1A_CNT_OFFSET = PmBlock.PM1A_CNT_OFFSET;
    public static final int PM1_CNT_LEN = PmBlock.PM1_CNT_LEN;
    public static final int PM_TMR_OFFSET = PmBlock.PM_TMR_OFFSET;
    public static final int PM_TMR_LEN = PmBlock.PM_TMR_LEN;
    public static final int RESET_REG_OFFSET = PmBlock.RESET_REG_OFFSET;
    /** The FADT RESET_VALUE. */
    public static final int RESET_VALUE = PmBlock.RESET_VALUE;

    /** PM timer frequency (4.8.3.3): 3.579545 MHz. */
    public static final long PM_TIMER_HZ = 3_579_545L;

    /** SLP_TYP values this platform implements; they must match the \_Sx packages. */
    public static final int SLP_TYP_S5 = PmBlock.SLP_TYP_S5;

    // PM1_STS / PM1_EN bits (Tables 4.14-4.17).
    static final int TMR_STS = 1 << 0;
    static final int BM_STS = 1 << 4;
    static final int GBL_STS = 1 << 5;
    static final int PWRBTN_STS = 1 << 8;
    static final int SLPBTN_STS = 1 << 9;
    static final int RTC_STS = 1 << 10;
    static final int WAK_STS = 1 << 15;
    static final int STS_BITS = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS | WAK_STS;
    static final int EN_BITS = TMR_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS;
    // PM1_CNT bits (Table 4.18).
    static final int SCI_EN = 1 << 0;
    static final int BM_RLD = 1 << 1;
    static final int GBL_RLS = 1 << 2;
    static final int SLP_TYP_SHIFT = 10;
    static final int SLP_TYP_MASK = 7 << SLP_TYP_SHIFT;
    static final int SLP_EN = 1 << 13;

    private final Runnable powerOff;
    private final Runnable reset;
    private final IrqLine sci;
    private final LongSupplier nanoTime;
    private long timerOrigin; // final but for restoreState

    private int pm1Sts;
    private int pm1En;
    private int pm1Cnt = SCI_EN;
    private boolean sciLevel;

    /** Contract constructor: no SCI line, the host's monotonic clock for the PM timer. */
    public AcpiPm(Runnable powerOff, Runnable reset) {
        this(powerOff, reset, null, System::nanoTime);
    }

    /**
     * @param powerOff called when the guest enters S5
     * @param reset    called when the guest writes the reset register
     * @param sci      the SCI (ISA IRQ 9, level), or null
     * @param nanoTime monotonic nanoseconds for the PM timer
     */
    public AcpiPm(Runnable powerOff, Runnable reset, IrqLine sci, LongSupplier nanoTime) {
        if (powerOff == null || reset == null || nanoTime == null) {
            throw new IllegalArgumentException("AcpiPm needs power-off and reset callbacks and a clock");
        }
        this.powerOff = powerOff;
        this.reset = reset;
        this.sci = sci;
        this.nanoTime = nanoTime;
        this.timerOrigin = nanoTime.getAsLong();
    }

    /** {@code Name (\_S5_, Package (4) {5, 5, 0, 0})}: SLP_TYPa, SLP_TYPb, reserved. */
    @Override
    public void appendAml(AmlWriter w) {
        PmBlock.S5.appendAml(w);
    }

    /** Presses the fixed-hardware power button: PWRBTN_STS, and the SCI if enabled. */
    public synchronized void pressPowerButton() {
        pm1Sts |= PWRBTN_STS;
        updateSci();
    }

    @Override
    public synchronized long read(long offset, int size) {
        int n = Math.clamp(size, 0, 8);
        long timer = -1;
        long result = 0;
        for (int i = 0; i < n; i++) {
            long at = offset + i;
            int b;
            if (at < 0 || at >= PORT_LENGTH) {
                b = 0xFF;
            } else if (at >= PM_TMR_OFFSET && at < PM_TMR_OFFSET + PM_TMR_LEN) {
                if (timer < 0) {
                    timer = timerValue(); // one sample per access, so a 32-bit read is coherent
                }
                b = (int) (timer >>> (8 * (at - PM_TMR_OFFSET))) & 0xFF;
            } else {
                b = readByte((int) at);
            }
            result |= (long) b << (8 * i);
        }
        return result;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        int n = Math.clamp(size, 0, 8);
        boolean sleep = false;
        boolean doReset = false;
        for (int i = 0; i < n; i++) {
            long at = offset + i;
            if (at < 0 || at >= PORT_LENGTH) {
                continue;
            }
            int b = (int) (value >>> (8 * i)) & 0xFF;
            int shift = 8 * (int) (at & 1);
            switch ((int) at) {
                case PM1A_EVT_OFFSET, PM1A_EVT_OFFSET + 1 -> pm1Sts &= ~((b << shift) & STS_BITS);
                case PM1A_EVT_OFFSET + 2, PM1A_EVT_OFFSET + 3 ->
                        pm1En = (pm1En & ~(0xFF << shift)) | ((b << shift) & EN_BITS);
                case PM1A_CNT_OFFSET, PM1A_CNT_OFFSET + 1 -> {
                    int v = b << shift;
                    if ((v & SLP_EN) != 0) {
                        sleep = true;
                    }
                    // SCI_EN stays 1; SLP_EN and GBL_RLS are write-only and read as 0.
                    int keep = (pm1Cnt & ~(0xFF << shift)) | (v & (BM_RLD | SLP_TYP_MASK));
                    pm1Cnt = keep | SCI_EN;
                }
                case RESET_REG_OFFSET -> doReset = b == RESET_VALUE;
                default -> {
                    // PM timer is read-only; the rest of the block is reserved.
                }
            }
        }
        updateSci();
        if (sleep && slpTyp() == SLP_TYP_S5) {
            powerOff.run();
        }
        if (doReset) {
            reset.run();
        }
    }

    /** The SLP_TYP last written to PM1_CNT. */
    public synchronized int slpTyp() {
        return (pm1Cnt & SLP_TYP_MASK) >>> SLP_TYP_SHIFT;
    }

    private int readByte(int at) {
        return switch (at) {
            case PM1A_EVT_OFFSET -> pm1Sts & 0xFF;
            case PM1A_EVT_OFFSET + 1 -> pm1Sts >>> 8;
            case PM1A_EVT_OFFSET + 2 -> pm1En & 0xFF;
            case PM1A_EVT_OFFSET + 3 -> pm1En >>> 8;
            case PM1A_CNT_OFFSET -> pm1Cnt & 0xFF;
            case PM1A_CNT_OFFSET + 1 -> pm1Cnt >>> 8;
            default -> 0; // the reset register and reserved bytes read as 0
        };
    }

    /** Ticks of the 3.579545 MHz clock since creation, modulo 2^32, without overflow. */
    private long timerValue() {
        long ns = nanoTime.getAsLong() - timerOrigin;
        long ticks = (ns / 1_000_000_000L) * PM_TIMER_HZ + (ns % 1_000_000_000L) * PM_TIMER_HZ / 1_000_000_000L;
        return ticks & 0xFFFF_FFFFL;
    }

    private void updateSci() {
        if (sci == null) {
            return;
        }
        boolean level = (pm1Cnt & SCI_EN) != 0 && (pm1Sts & pm1En & EN_BITS) != 0;
        if (level != sciLevel) {
            sciLevel = level;
            sci.set(level);
        }
    }

    // ---- snapshot (issue 8) ----

    public synchronized AcpiPmState saveState() {
        return new AcpiPmState(pm1Sts, pm1En, pm1Cnt, timerValue());
    }

    /** Takes over a saved state; the PM timer counts on from the saved value. */
    public synchronized void restoreState(AcpiPmState s) {
        pm1Sts = s.pm1Sts() & STS_BITS;
        pm1En = s.pm1En() & EN_BITS;
        pm1Cnt = (s.pm1Cnt() & (BM_RLD | SLP_TYP_MASK)) | SCI_EN;
        // timerValue() = ticks(now - origin): pick the origin that makes it the saved value now.
        long savedNanos = s.timerTicks() / PM_TIMER_HZ * 1_000_000_000L
                + (s.timerTicks() % PM_TIMER_HZ) * 1_000_000_000L / PM_TIMER_HZ;
        timerOrigin = nanoTime.getAsLong() - savedNanos;
        sciLevel = false;
        updateSci();
    }
}
