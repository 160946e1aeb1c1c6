package io.qingtian.hypervisor.devices;

import io.qingtian.acpi.LegacyDevices;
import io.qingtian.hypervisor.bus.IrqLine;
import io.qingtian.hypervisor.snapshot.SerialState;
import java.io.OutputStream;

/**
 * A 16550A UART (National Semiconductor PC16550D data sheet; register names as in Linux's
 * include/uapi/linux/serial_reg.h) on COM1: ports 0x3F8-0x3FF, ISA IRQ 4.
 *
 * <p>What the Linux 8250 driver checks, and how this model answers:
 * <ul>
 * <li>autoconfig: IER keeps its low four bits; loopback (MCR 0x1A) makes MSR's top nibble
 * 0x90; with FIFOs enabled IIR bits 7-6 read 11 (a 16550A) and bit 5 stays 0 (no 64-byte
 * 16750 FIFO); LSR never reads 0xFF (the "LSR safety check").</li>
 * <li>startup's THRE test: enabling ETBEI while the transmitter is empty raises the THRE
 * interrupt at once, and does so again after IER is cleared and set again; reading IIR
 * while THRE is the reported source clears it.</li>
 * <li>transmission is instantaneous: LSR always has THRE and TEMT, and every THR write
 * leaves a THRE interrupt pending.</li>
 * </ul>
 *
 * <p>Receive path: a 16-byte FIFO (1 byte with FIFOs off) fed from a host-side queue, so
 * input pasted faster than the guest reads is held back rather than lost. The host side
 * behaves like a terminal with RTS/CTS flow control: it sends only while the guest asserts
 * RTS (MCR bit 1). Linux raises RTS when the tty is opened and drops it on hangup (and on
 * throttle with CRTSCTS), so input typed or piped in before the guest's console is open
 * waits in the host queue instead of being thrown away by the driver's FIFO clears during
 * probe and startup.
 * Below the FIFO trigger level the pending interrupt is the character timeout (IIR 0x0C),
 * at or above it received-data-available (0x04), as the guest would see after the
 * 4-character-time timeout. In loopback mode transmitted bytes go to the receiver; when
 * the FIFO is full the byte is lost and LSR.OE is set.
 *
 * <p>The IRQ line follows the interrupt condition (raised when an interrupt becomes
 * pending, lowered when none is), the level model of a real UART's INTR pin; the ISA
 * pin is edge-triggered, so each new interrupt after the guest cleared the last one is a
 * fresh edge.
 *
 * <p>Output is buffered and flushed per line or when the guest pauses ({@link #flush()}).
 */
public final class Serial16550 extends ByteRegisterDevice implements AutoCloseable {
    /** Ports and IRQ as the DSDT describes COM1 ({@link LegacyDevices#COM1}). */
    public static final int COM1_PORT = LegacyDevices.COM1_PORT;
    public static final int PORT_LENGTH = LegacyDevices.COM1_PORT_LENGTH;
    public static final int COM1_IRQ = LegacyDevices.COM1_IRQ;

    // Register offsets.
    static final int RBR_THR_DLL = 0;
    static final int IER_DLM = 1;
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    // IER bits.
    static final int IER_RDI = 0x01;
    static final int IER_THRI = 0x02;
    static final int IER_RLSI = 0x04;
    static final int IER_MSI = 0x08;
    // IIR values.
    static final int IIR_NO_INT = 0x01;
    static final int IIR_MSI = 0x00;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_RLSI = 0x06;
    static final int IIR_RX_TIMEOUT = 0x0C;
    static final int IIR_FIFO_ENABLED = 0xC0;
    // FCR bits.
    static final int FCR_ENABLE_FIFO = 0x01;
    static final int FCR_CLEAR_RCVR = 0x02;
    static final int FCR_CLEAR_XMIT = 0x04;
    // LCR bits.
    static final int LCR_DLAB = 0x80;
    // MCR bits.
    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    // LSR bits.
    static final int LSR_DR = 0x01;
    static final int LSR_OE = 0x02;
    static final int LSR_PE = 0x04;
    static final int LSR_FE = 0x08;
    static final int LSR_BI = 0x10;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;
    // MSR bits.
    static final int MSR_DCTS = 0x01;
    static final int MSR_DDSR = 0x02;
    static final int MSR_TERI = 0x04;
    static final int MSR_DDCD = 0x08;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;

    static final int FIFO_SIZE = 16;
    /** Host input held back while the guest's FIFO is full; beyond this it is dropped. */
    static final int HOST_QUEUE_CAPACITY = 64 * 1024;
    private static final int[] RX_TRIGGER = {1, 4, 8, 14};

    private final IrqLine irq;
    private final ConsoleOutput output;

    private int ier;
    private int lcr = 0x03; // 8N1, as firmware leaves it
    private int mcr;
    private int lsrErrors;
    private int msrDeltas;
    private int msrStatus = MSR_DCD | MSR_DSR | MSR_CTS; // a connected terminal
    private int scr;
    private int dll = 0x0C; // 9600 baud from the 1.8432 MHz clock
    private int dlm;
    private boolean fifoEnabled;
    private int rxTrigger = 1;
    private boolean thriPending;
    private boolean irqLevel;

    private final byte[] rxFifo = new byte[FIFO_SIZE];
    private int rxHead;
    private int rxCount;
    private final byte[] hostQueue = new byte[HOST_QUEUE_CAPACITY];
    private int hostHead;
    private int hostCount;
    private long droppedInput;

    /**
     * @param irq the line to ISA IRQ 4 (never null)
     * @param out where the guest's transmitted bytes go (the host console)
     */
    public Serial16550(IrqLine irq, OutputStream out) {
        super(PORT_LENGTH);
        if (irq == null || out == null) {
            throw new IllegalArgumentException("Serial16550 needs an IRQ line and an output stream");
        }
        this.irq = irq;
        this.output = new ConsoleOutput(out);
    }

    /**
     * Delivers host input (e.g. from stdin) to the guest. Thread-safe; never blocks on the
     * guest. Bytes beyond the host queue's capacity are dropped and counted.
     */
    public synchronized void queueInput(byte[] bytes) {
        for (byte b : bytes) {
            if (hostCount == HOST_QUEUE_CAPACITY) {
                droppedInput++;
                continue;
            }
            hostQueue[(hostHead + hostCount) % HOST_QUEUE_CAPACITY] = b;
            hostCount++;
        }
        refillRx();
        updateIrq();
    }

    /** Host input bytes dropped because the guest did not read them in time. */
    public synchronized long droppedInput() {
        return droppedInput;
    }

    /** Pushes buffered guest output to the host stream now. */
    public void flush() {
        output.flush();
    }

    /** Flushes and stops the flush timer; later output is dropped. */
    @Override
    public void close() {
        output.close();
    }

    @Override
    int readRegister(int index) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        return switch (index) {
            case RBR_THR_DLL -> dlab ? dll : readRbr();
            case IER_DLM -> dlab ? dlm : ier;
            case IIR_FCR -> readIir();
            case LCR -> lcr;
            case MCR -> mcr;
            case LSR -> readLsr();
            case MSR -> readMsr();
            case SCR -> scr;
            default -> 0xFF;
        };
    }

    @Override
    void writeRegister(int index, int value) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (index) {
            case RBR_THR_DLL -> {
                if (dlab) {
                    dll = value;
                } else {
                    writeThr(value);
                }
            }
            case IER_DLM -> {
                if (dlab) {
                    dlm = value;
                } else {
                    writeIer(value);
                }
            }
            case IIR_FCR -> writeFcr(value);
            case LCR -> lcr = value;
            case MCR -> writeMcr(value);
            case SCR -> scr = value;
            default -> {
                // LSR and MSR writes are factory-test only on the 16550: ignored.
            }
        }
    }

    private int readRbr() {
        int value = 0;
        if (rxCount > 0) {
            value = rxFifo[rxHead] & 0xFF;
            rxHead = (rxHead + 1) % FIFO_SIZE;
            rxCount--;
            refillRx();
        }
        updateIrq();
        return value;
    }

    private void writeThr(int value) {
        if ((mcr & MCR_LOOP) != 0) {
            receive(value);
        } else {
            output.write(value);
        }
        // The byte left the holding register at once: THR is empty again.
        thriPending = true;
        updateIrq();
    }

    private void writeIer(int value) {
        int old = ier;
        ier = value & 0x0F;
        if ((ier & IER_THRI) != 0 && (old & IER_THRI) == 0) {
            // Enabling ETBEI with THR empty raises THRE immediately (16550D data sheet, IIR).
            thriPending = true;
        }
        updateIrq();
    }

    private void writeFcr(int value) {
        boolean enable = (value & FCR_ENABLE_FIFO) != 0;
        if (enable != fifoEnabled) {
            // Changing the FIFO mode resets both FIFOs.
            clearRx();
        }
        fifoEnabled = enable;
        if ((value & FCR_CLEAR_RCVR) != 0) {
            clearRx();
        }
        // FCR_CLEAR_XMIT: our transmitter is always empty.
        rxTrigger = RX_TRIGGER[(value >>> 6) & 3];
        refillRx();
        updateIrq();
    }

    private void writeMcr(int value) {
        mcr = value & 0x1F;
        updateModemStatus();
        refillRx(); // leaving loopback or raising RTS lets held-back input in
        updateIrq();
    }

    private int readIir() {
        int iid = pendingInterrupt();
        if (iid == IIR_THRI) {
            // Reading IIR clears a THRE interrupt when it is the one reported.
            thriPending = false;
        }
        int value = iid | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
        updateIrq();
        return value;
    }

    private int readLsr() {
        int value = LSR_THRE | LSR_TEMT | lsrErrors | (rxCount > 0 ? LSR_DR : 0);
        lsrErrors = 0; // reading LSR clears OE/PE/FE/BI and the line-status interrupt
        updateIrq();
        return value;
    }

    private int readMsr() {
        int value = msrStatus | msrDeltas;
        msrDeltas = 0;
        updateIrq();
        return value;
    }

    /** MSR's status bits: the modem inputs, or in loopback the MCR outputs wired back. */
    private void updateModemStatus() {
        int status;
        if ((mcr & MCR_LOOP) != 0) {
            status = ((mcr & MCR_RTS) != 0 ? MSR_CTS : 0)
                    | ((mcr & MCR_DTR) != 0 ? MSR_DSR : 0)
                    | ((mcr & MCR_OUT1) != 0 ? MSR_RI : 0)
                    | ((mcr & MCR_OUT2) != 0 ? MSR_DCD : 0);
        } else {
            status = MSR_DCD | MSR_DSR | MSR_CTS;
        }
        int changed = status ^ msrStatus;
        if ((changed & MSR_CTS) != 0) {
            msrDeltas |= MSR_DCTS;
        }
        if ((changed & MSR_DSR) != 0) {
            msrDeltas |= MSR_DDSR;
        }
        if ((changed & MSR_DCD) != 0) {
            msrDeltas |= MSR_DDCD;
        }
        if ((msrStatus & MSR_RI) != 0 && (status & MSR_RI) == 0) {
            msrDeltas |= MSR_TERI; // trailing edge of ring indicator
        }
        msrStatus = status;
    }

    /** One byte arriving at the receiver (loopback): overrun if there is no room. */
    private void receive(int value) {
        if (rxCount >= rxCapacity()) {
            lsrErrors |= LSR_OE;
            return;
        }
        rxFifo[(rxHead + rxCount) % FIFO_SIZE] = (byte) value;
        rxCount++;
    }

    /**
     * Moves held-back host input into the receiver while it has room, the guest asserts
     * RTS, and the receiver is not looped back.
     */
    private void refillRx() {
        if ((mcr & MCR_LOOP) != 0 || (mcr & MCR_RTS) == 0) {
            return;
        }
        int capacity = rxCapacity();
        while (hostCount > 0 && rxCount < capacity) {
            rxFifo[(rxHead + rxCount) % FIFO_SIZE] = hostQueue[hostHead];
            rxCount++;
            hostHead = (hostHead + 1) % HOST_QUEUE_CAPACITY;
            hostCount--;
        }
    }

    private int rxCapacity() {
        return fifoEnabled ? FIFO_SIZE : 1;
    }

    private void clearRx() {
        rxHead = 0;
        rxCount = 0;
    }

    /** The highest-priority pending and enabled interrupt (16550D Table 4), or IIR_NO_INT. */
    private int pendingInterrupt() {
        if ((ier & IER_RLSI) != 0 && lsrErrors != 0) {
            return IIR_RLSI;
        }
        if ((ier & IER_RDI) != 0 && rxCount > 0) {
            return fifoEnabled && rxCount < rxTrigger ? IIR_RX_TIMEOUT : IIR_RDI;
        }
        if ((ier & IER_THRI) != 0 && thriPending) {
            return IIR_THRI;
        }
        if ((ier & IER_MSI) != 0 && msrDeltas != 0) {
            return IIR_MSI;
        }
        return IIR_NO_INT;
    }

    private void updateIrq() {
        boolean level = pendingInterrupt() != IIR_NO_INT;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    // ---- snapshot (issue 8) ----

    /** The UART's state for a snapshot (the VM is paused; host input keeps its order). */
    public synchronized SerialState saveState() {
        byte[] fifo = new byte[rxCount];
        for (int i = 0; i < rxCount; i++) {
            fifo[i] = rxFifo[(rxHead + i) % FIFO_SIZE];
        }
        byte[] host = new byte[hostCount];
        for (int i = 0; i < hostCount; i++) {
            host[i] = hostQueue[(hostHead + i) % HOST_QUEUE_CAPACITY];
        }
        output.flush();
        return new SerialState(ier, lcr, mcr, lsrErrors, msrDeltas, msrStatus, scr, dll, dlm, fifoEnabled, rxTrigger,
                thriPending, fifo, host);
    }

    /**
     * Takes over a saved state (before the restored vCPUs run) and drives the IRQ line to the
     * level that state implies, so an interrupt pending at the snapshot is seen again.
     */
    public synchronized void restoreState(SerialState s) {
        ier = s.ier();
        lcr = s.lcr();
        mcr = s.mcr();
        lsrErrors = s.lsrErrors();
        msrDeltas = s.msrDeltas();
        msrStatus = s.msrStatus();
        scr = s.scr();
        dll = s.dll();
        dlm = s.dlm();
        fifoEnabled = s.fifoEnabled();
        rxTrigger = s.rxTrigger();
        thriPending = s.thriPending();
        byte[] fifo = s.rxFifo();
        System.arraycopy(fifo, 0, rxFifo, 0, fifo.length);
        rxHead = 0;
        rxCount = fifo.length;
        byte[] host = s.hostInput();
        System.arraycopy(host, 0, hostQueue, 0, host.length);
        hostHead = 0;
        hostCount = host.length;
        irqLevel = false;
        updateIrq();
    }
}
