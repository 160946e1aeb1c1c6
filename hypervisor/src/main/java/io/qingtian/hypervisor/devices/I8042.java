package io.qingtian.hypervisor.devices;

import io.qingtian.acpi.LegacyDevices;
import io.qingtian.hypervisor.bus.IrqLine;
import io.qingtian.hypervisor.snapshot.I8042State;

/**
 * The PC keyboard controller (Intel 8042 and its PS/2 successors) with a keyboard and no
 * mouse, at ports 0x60-0x64 as one range: offset 0 is the data port 0x60, offset 4 the
 * status/command port 0x64 (offset 1, port 0x61, is System Control Port B, normally
 * served by KVM's in-kernel PIT; it is kept here only so the range is complete).
 *
 * <p>Enough for Linux's i8042 and atkbd drivers to probe at once: the status register
 * never reads 0xFF, self-test (0xAA) answers 0x55, the command byte (CTR) reads back what
 * was written, the AUX loopback (0xD3) and AUX test (0xA9) report "no mouse port" without
 * waiting for a timeout, and the keyboard ACKs its commands and identifies itself (0xAB
 * 0x83, or 0xAB 0x41 when the controller translates). Without an IRQ line the keyboard's
 * replies still reach the output buffer, but the interrupt-driven atkbd probe then times
 * out (about 0.4 s, in a background thread); pass IRQ 1 to avoid that.
 *
 * <p>Command 0xFE (pulse output line 0, the CPU reset line; any 0xF0-0xFE with bit 0
 * clear) and writing the output port with bit 0 clear (0xD1) request a reset: this is how
 * Linux's "reboot=k" and most firmware reboot a PC.
 */
public final class I8042 extends ByteRegisterDevice {
    /** Ports and IRQ as the DSDT describes the controller ({@link LegacyDevices#KBD}): 0x60-0x64 inclusive. */
    public static final int PORT_BASE = LegacyDevices.I8042_PORT;
    public static final int PORT_LENGTH = LegacyDevices.I8042_PORT_LENGTH;
    public static final int DATA_OFFSET = 0;
    public static final int PORT_B_OFFSET = 1;
    public static final int COMMAND_OFFSET = LegacyDevices.I8042_COMMAND_OFFSET;
    public static final int KBD_IRQ = LegacyDevices.KBD_IRQ;

    // Status register (port 0x64 read).
    static final int STR_OBF = 0x01;
    static final int STR_IBF = 0x02;
    static final int STR_SYS = 0x04;
    static final int STR_CMDDAT = 0x08;
    static final int STR_KEYLOCK = 0x10; // 1: keyboard not inhibited
    static final int STR_AUXDATA = 0x20;
    // Controller command byte (CTR).
    static final int CTR_KBDINT = 0x01;
    static final int CTR_AUXINT = 0x02;
    static final int CTR_SYS = 0x04;
    static final int CTR_KBDDIS = 0x10;
    static final int CTR_AUXDIS = 0x20;
    static final int CTR_XLATE = 0x40;
    /** What firmware leaves: keyboard interrupt on, POST passed, translation on, no mouse. */
    static final int CTR_INITIAL = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;

    // Controller commands (port 0x64 write).
    static final int CMD_READ_RAM = 0x20; // 0x20-0x3F
    static final int CMD_WRITE_RAM = 0x60; // 0x60-0x7F
    static final int CMD_AUX_DISABLE = 0xA7;
    static final int CMD_AUX_ENABLE = 0xA8;
    static final int CMD_AUX_TEST = 0xA9;
    static final int CMD_SELF_TEST = 0xAA;
    static final int CMD_KBD_TEST = 0xAB;
    static final int CMD_KBD_DISABLE = 0xAD;
    static final int CMD_KBD_ENABLE = 0xAE;
    static final int CMD_READ_INPUT = 0xC0;
    static final int CMD_READ_OUTPUT = 0xD0;
    static final int CMD_WRITE_OUTPUT = 0xD1;
    static final int CMD_WRITE_KBD_OUTBUF = 0xD2;
    static final int CMD_WRITE_AUX_OUTBUF = 0xD3;
    static final int CMD_WRITE_AUX = 0xD4;
    static final int CMD_A20_DISABLE = 0xDD;
    static final int CMD_A20_ENABLE = 0xDF;
    static final int CMD_READ_TEST_INPUTS = 0xE0;
    static final int CMD_PULSE_RESET = 0xFE;

    static final int SELF_TEST_OK = 0x55;
    static final int AUX_TEST_CLOCK_STUCK_LOW = 0x01;
    static final int OUTPUT_PORT_RESET = 0x01; // 1: CPU reset line not asserted
    static final int OUTPUT_PORT_A20 = 0x02;

    // Keyboard (PS/2 device) commands and replies.
    static final int KBD_SET_LEDS = 0xED;
    static final int KBD_ECHO = 0xEE;
    static final int KBD_SCANCODE_SET = 0xF0;
    static final int KBD_GET_ID = 0xF2;
    static final int KBD_SET_RATE = 0xF3;
    static final int KBD_ENABLE = 0xF4;
    static final int KBD_RESET_DISABLE = 0xF5;
    static final int KBD_RESET = 0xFF;
    static final int KBD_ACK = 0xFA;
    static final int KBD_RESEND = 0xFE;
    static final int KBD_BAT_OK = 0xAA;

    private static final int QUEUE_SIZE = 16;

    private final Runnable resetRequest;
    private final IrqLine irq;

    private final int[] ram = new int[32]; // ram[0] is the CTR
    private int status = STR_KEYLOCK; // STR_SYS mirrors CTR_SYS
    private int outputPort = OUTPUT_PORT_RESET | OUTPUT_PORT_A20;
    private int pendingCommand = -1; // controller command awaiting its data byte
    private int portB;
    private boolean refreshToggle;

    // The output buffer (one byte, OBF) fed from the controller's replies, then the keyboard.
    private int outputBuffer;
    private final ByteQueue controllerReplies = new ByteQueue(QUEUE_SIZE);
    private final ByteQueue keyboardReplies = new ByteQueue(QUEUE_SIZE);

    private int keyboardPendingCommand = -1; // keyboard command awaiting its parameter
    private boolean scanning = true;
    private boolean irqLevel;

    /** A controller without an interrupt line (contract constructor). */
    public I8042(Runnable resetRequest) {
        this(resetRequest, null);
    }

    /**
     * @param resetRequest called (on the vCPU thread) when the guest pulses the reset line
     * @param keyboardIrq  ISA IRQ 1, or null for none
     */
    public I8042(Runnable resetRequest, IrqLine keyboardIrq) {
        super(PORT_LENGTH);
        if (resetRequest == null) {
            throw new IllegalArgumentException("I8042 needs a reset callback");
        }
        this.resetRequest = resetRequest;
        this.irq = keyboardIrq;
        ram[0] = CTR_INITIAL;
    }

    /**
     * Sends Ctrl+Alt+Del presses and releases from the keyboard (what Firecracker's
     * SendCtrlAltDel does): a guest init usually treats it as a reboot or shutdown request.
     * Scan code set 1 when the controller translates (the usual case), set 2 otherwise.
     */
    public synchronized void sendCtrlAltDel() {
        int[] codes = (ram[0] & CTR_XLATE) != 0
                ? new int[] {0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D}
                : new int[] {0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14};
        if (!scanning) {
            return;
        }
        for (int c : codes) {
            keyboardReplies.offer(c);
        }
        fillOutputBuffer();
        updateIrq();
    }

    @Override
    int readRegister(int index) {
        return switch (index) {
            case DATA_OFFSET -> readData();
            case PORT_B_OFFSET -> {
                refreshToggle = !refreshToggle; // bit 4 toggles with DRAM refresh; old delay loops poll it
                yield (portB & 0x0F) | (refreshToggle ? 0x10 : 0);
            }
            case COMMAND_OFFSET -> status | ((ram[0] & CTR_SYS) != 0 ? STR_SYS : 0);
            default -> 0xFF;
        };
    }

    @Override
    void writeRegister(int index, int value) {
        switch (index) {
            case DATA_OFFSET -> writeData(value);
            case PORT_B_OFFSET -> portB = value;
            case COMMAND_OFFSET -> writeCommand(value);
            default -> {
                // ports 0x62/0x63: nothing there
            }
        }
    }

    private int readData() {
        int value = outputBuffer;
        if ((status & STR_OBF) != 0) {
            status &= ~(STR_OBF | STR_AUXDATA);
            // Drop the line so the next byte, if any, is a new edge on the ISA IRQ pin.
            updateIrq();
            fillOutputBuffer();
            updateIrq();
        }
        return value;
    }

    private void writeCommand(int cmd) {
        status |= STR_CMDDAT;
        pendingCommand = -1;
        if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
            reply(ram[cmd & 0x1F]);
            return;
        }
        if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
            pendingCommand = cmd;
            return;
        }
        switch (cmd) {
            case CMD_AUX_DISABLE -> ram[0] |= CTR_AUXDIS;
            case CMD_AUX_ENABLE -> ram[0] &= ~CTR_AUXDIS;
            case CMD_AUX_TEST -> reply(AUX_TEST_CLOCK_STUCK_LOW); // no mouse port wired
            case CMD_SELF_TEST -> {
                ram[0] |= CTR_SYS;
                reply(SELF_TEST_OK);
            }
            case CMD_KBD_TEST -> reply(0x00);
            case CMD_KBD_DISABLE -> ram[0] |= CTR_KBDDIS;
            case CMD_KBD_ENABLE -> {
                ram[0] &= ~CTR_KBDDIS;
                fillOutputBuffer();
            }
            case CMD_READ_INPUT -> reply(0x80); // keyboard not inhibited
            case CMD_READ_OUTPUT -> reply(outputPort
                    | ((status & STR_OBF) != 0 && (status & STR_AUXDATA) == 0 ? 0x10 : 0));
            case CMD_WRITE_OUTPUT, CMD_WRITE_KBD_OUTBUF, CMD_WRITE_AUX_OUTBUF, CMD_WRITE_AUX -> pendingCommand = cmd;
            case CMD_A20_DISABLE -> outputPort &= ~OUTPUT_PORT_A20;
            case CMD_A20_ENABLE -> outputPort |= OUTPUT_PORT_A20;
            case CMD_READ_TEST_INPUTS -> reply(0x00);
            default -> {
                if ((cmd & 0xF0) == 0xF0 && (cmd & OUTPUT_PORT_RESET) == 0) {
                    // 0xF0-0xFE pulse the output lines whose bit is 0; line 0 is CPU reset.
                    resetRequest.run();
                }
                // Anything else (0xFF "null command" included) is ignored.
            }
        }
        updateIrq();
    }

    private void writeData(int value) {
        status &= ~STR_CMDDAT;
        int cmd = pendingCommand;
        pendingCommand = -1;
        if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
            ram[cmd & 0x1F] = value;
            if ((cmd & 0x1F) == 0) {
                fillOutputBuffer();
            }
        } else if (cmd == CMD_WRITE_OUTPUT) {
            outputPort = value;
            if ((value & OUTPUT_PORT_RESET) == 0) {
                resetRequest.run();
            }
        } else if (cmd == CMD_WRITE_KBD_OUTBUF) {
            keyboardReplies.offer(value);
            fillOutputBuffer();
        } else if (cmd == CMD_WRITE_AUX_OUTBUF) {
            // No mouse port: the byte comes back, but not flagged as AUX data, which is how
            // Linux's AUX loopback test learns there is no AUX port without a timeout.
            reply(value);
        } else if (cmd == CMD_WRITE_AUX) {
            // No mouse attached: the byte goes nowhere.
        } else {
            keyboardCommand(value);
        }
        updateIrq();
    }

    /** The keyboard's answer to a byte the host sent it (PS/2 keyboard protocol). */
    private void keyboardCommand(int value) {
        int pending = keyboardPendingCommand;
        keyboardPendingCommand = -1;
        if (pending >= 0) {
            keyboardReplies.offer(KBD_ACK);
            if (pending == KBD_SCANCODE_SET && value == 0) {
                keyboardReplies.offer(2); // "which set?": set 2
            }
        } else {
            switch (value) {
                case KBD_SET_LEDS, KBD_SET_RATE, KBD_SCANCODE_SET -> {
                    keyboardReplies.offer(KBD_ACK);
                    keyboardPendingCommand = value;
                }
                case KBD_ECHO -> keyboardReplies.offer(KBD_ECHO);
                case KBD_GET_ID -> {
                    keyboardReplies.offer(KBD_ACK);
                    keyboardReplies.offer(0xAB);
                    keyboardReplies.offer((ram[0] & CTR_XLATE) != 0 ? 0x41 : 0x83);
                }
                case KBD_ENABLE -> {
                    scanning = true;
                    keyboardReplies.offer(KBD_ACK);
                }
                case KBD_RESET_DISABLE -> {
                    scanning = false;
                    keyboardReplies.offer(KBD_ACK);
                }
                case KBD_RESET -> {
                    scanning = true;
                    keyboardReplies.offer(KBD_ACK);
                    keyboardReplies.offer(KBD_BAT_OK);
                }
                default -> keyboardReplies.offer(value >= 0xF6 ? KBD_ACK : KBD_RESEND);
            }
        }
        fillOutputBuffer();
    }

    private void reply(int value) {
        controllerReplies.offer(value);
        fillOutputBuffer();
    }

    /** Loads the next byte into an empty output buffer: controller replies first. */
    private void fillOutputBuffer() {
        if ((status & STR_OBF) != 0) {
            return;
        }
        if (!controllerReplies.isEmpty()) {
            outputBuffer = controllerReplies.poll();
            status |= STR_OBF;
        } else if (!keyboardReplies.isEmpty() && (ram[0] & CTR_KBDDIS) == 0) {
            outputBuffer = keyboardReplies.poll();
            status |= STR_OBF;
        }
    }

    private void updateIrq() {
        if (irq == null) {
            return;
        }
        boolean level = (status & STR_OBF) != 0 && (status & STR_AUXDATA) == 0 && (ram[0] & CTR_KBDINT) != 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    /** A small FIFO of bytes that drops new bytes when full (a real 8042/keyboard buffer overruns). */
    private static final class ByteQueue {
        private final int[] items;
        private int head;
        private int count;

        ByteQueue(int capacity) {
            items = new int[capacity];
        }

        void offer(int v) {
            if (count < items.length) {
                items[(head + count) % items.length] = v & 0xFF;
                count++;
            }
        }

        int poll() {
            int v = items[head];
            head = (head + 1) % items.length;
            count--;
            return v;
        }

        boolean isEmpty() {
            return count == 0;
        }

        byte[] toBytes() {
            byte[] out = new byte[count];
            for (int i = 0; i < count; i++) {
                out[i] = (byte) items[(head + i) % items.length];
            }
            return out;
        }

        void fill(byte[] bytes) {
            head = 0;
            count = 0;
            for (byte b : bytes) {
                offer(b);
            }
        }
    }

    // ---- snapshot (issue 8) ----

    public synchronized I8042State saveState() {
        byte[] r = new byte[ram.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = (byte) ram[i];
        }
        return new I8042State(r, status, outputPort, pendingCommand, portB, refreshToggle, outputBuffer,
                controllerReplies.toBytes(), keyboardReplies.toBytes(), keyboardPendingCommand, scanning);
    }

    /** Takes over a saved state and drives IRQ 1 to the level it implies. */
    public synchronized void restoreState(I8042State s) {
        byte[] r = s.ram();
        for (int i = 0; i < r.length; i++) {
            ram[i] = r[i] & 0xff;
        }
        status = s.status();
        outputPort = s.outputPort();
        pendingCommand = s.pendingCommand();
        portB = s.portB();
        refreshToggle = s.refreshToggle();
        outputBuffer = s.outputBuffer();
        controllerReplies.fill(s.controllerReplies());
        keyboardReplies.fill(s.keyboardReplies());
        keyboardPendingCommand = s.keyboardPendingCommand();
        scanning = s.scanning();
        irqLevel = false;
        updateIrq();
    }
}
