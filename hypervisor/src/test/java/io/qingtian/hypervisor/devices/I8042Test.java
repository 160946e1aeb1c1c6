package io.qingtian.hypervisor.devices;

import static io.qingtian.hypervisor.devices.I8042.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The keyboard controller as Linux's i8042 and atkbd drivers probe it. */
class I8042Test {
    private final AtomicInteger resets = new AtomicInteger();
    private final RecordingIrq irq = new RecordingIrq();
    private final I8042 kbc = new I8042(resets::incrementAndGet, irq);

    private int status() {
        return (int) kbc.read(COMMAND_OFFSET, 1);
    }

    private void command(int cmd) {
        kbc.write(COMMAND_OFFSET, 1, cmd);
    }

    private void data(int value) {
        kbc.write(DATA_OFFSET, 1, value);
    }

    /** What i8042_wait_read + read does: the byte if OBF is set, else -1. */
    private int readIfFull() {
        if ((status() & STR_OBF) == 0) {
            return -1;
        }
        return (int) kbc.read(DATA_OFFSET, 1);
    }

    private List<Integer> drain() {
        List<Integer> bytes = new ArrayList<>();
        for (int b = readIfFull(); b >= 0; b = readIfFull()) {
            bytes.add(b);
        }
        return bytes;
    }

    @Test
    void pulseResetCommandRequestsAReset() {
        I8042 plain = new I8042(resets::incrementAndGet);
        plain.write(COMMAND_OFFSET, 1, CMD_PULSE_RESET);
        assertThat(resets).hasValue(1);
        plain.write(COMMAND_OFFSET, 1, 0xFF); // pulse nothing: the "null command"
        assertThat(resets).hasValue(1);
    }

    @Test
    void writingTheOutputPortWithResetLowRequestsAReset() {
        command(CMD_WRITE_OUTPUT);
        data(0xDF); // Linux's A20-on write keeps bit 0 (reset) high
        assertThat(resets).hasValue(0);
        command(CMD_READ_OUTPUT);
        assertThat(readIfFull() & 0x03).isEqualTo(0x03);
        command(CMD_WRITE_OUTPUT);
        data(0xDE);
        assertThat(resets).hasValue(1);
    }

    @Test
    void linuxControllerProbeSucceedsWithoutTimeouts() {
        // i8042_controller_check: the status register is not 0xFF and the buffer drains.
        assertThat(status()).isNotEqualTo(0xFF);
        assertThat(drain()).isEmpty();
        // i8042_controller_selftest
        command(CMD_SELF_TEST);
        assertThat(readIfFull()).isEqualTo(SELF_TEST_OK);
        assertThat(status() & STR_SYS).isNotZero();
        // i8042_controller_init: two identical CTR reads, then write it back modified.
        command(CMD_READ_RAM);
        int ctr1 = readIfFull();
        command(CMD_READ_RAM);
        int ctr2 = readIfFull();
        assertThat(ctr1).isEqualTo(ctr2).isEqualTo(CTR_INITIAL);
        int ctr = (ctr1 | CTR_KBDDIS) & ~CTR_KBDINT;
        command(CMD_WRITE_RAM);
        data(ctr);
        command(CMD_READ_RAM);
        assertThat(readIfFull()).isEqualTo(ctr);
        // i8042_check_aux: the loopback byte comes back without AUXDATA, the AUX test fails.
        command(CMD_WRITE_AUX_OUTBUF);
        data(0x5A);
        int st = status();
        assertThat(st & STR_OBF).isNotZero();
        assertThat(st & STR_AUXDATA).isZero();
        assertThat(readIfFull()).isEqualTo(0x5A);
        command(CMD_AUX_TEST);
        int auxTest = readIfFull();
        assertThat(auxTest).isNotIn(0x00, 0xFA, 0xFF); // Linux: "no AUX port"
        // Keyboard interface test passes.
        command(CMD_KBD_TEST);
        assertThat(readIfFull()).isZero();
    }

    @Test
    void keyboardIdentifiesItselfWithAnInterruptPerByte() {
        data(KBD_GET_ID);
        assertThat(irq.level()).isTrue();
        List<Integer> reply = drain();
        assertThat(reply).containsExactly(KBD_ACK, 0xAB, 0x41); // translated (XLATE set)
        assertThat(irq.risingEdges()).as("one edge per byte on the ISA pin").isEqualTo(3);
        assertThat(irq.level()).isFalse();

        command(CMD_WRITE_RAM);
        data(CTR_INITIAL & ~CTR_XLATE);
        data(KBD_GET_ID);
        assertThat(drain()).containsExactly(KBD_ACK, 0xAB, 0x83);
    }

    @Test
    void keyboardAcknowledgesCommandsAndTheirParameters() {
        data(KBD_SET_LEDS);
        assertThat(drain()).containsExactly(KBD_ACK);
        data(0x07);
        assertThat(drain()).containsExactly(KBD_ACK);
        data(KBD_SCANCODE_SET);
        data(0); // "which set?"
        assertThat(drain()).containsExactly(KBD_ACK, KBD_ACK, 2);
        data(KBD_RESET);
        assertThat(drain()).containsExactly(KBD_ACK, KBD_BAT_OK);
        data(KBD_ECHO);
        assertThat(drain()).containsExactly(KBD_ECHO);
        data(0x12); // not a command
        assertThat(drain()).containsExactly(KBD_RESEND);
    }

    @Test
    void disabledKeyboardInterfaceHoldsBytesUntilEnabled() {
        command(CMD_KBD_DISABLE);
        data(KBD_ECHO);
        assertThat(status() & STR_OBF).isZero();
        command(CMD_KBD_ENABLE);
        assertThat(drain()).containsExactly(KBD_ECHO);
    }

    @Test
    void noInterruptWhenTheCommandByteDisablesIt() {
        command(CMD_WRITE_RAM);
        data(CTR_INITIAL & ~CTR_KBDINT);
        data(KBD_ECHO);
        assertThat(status() & STR_OBF).isNotZero();
        assertThat(irq.level()).isFalse();
    }

    @Test
    void ctrlAltDelArrivesAsScanCodes() {
        kbc.sendCtrlAltDel();
        assertThat(drain()).containsExactly(0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D);
    }

    @Test
    void readingAnEmptyBufferRepeatsTheLastByteWithoutSideEffects() {
        command(CMD_SELF_TEST);
        assertThat(kbc.read(DATA_OFFSET, 1)).isEqualTo(SELF_TEST_OK);
        assertThat(kbc.read(DATA_OFFSET, 1)).isEqualTo(SELF_TEST_OK);
        assertThat(status() & STR_OBF).isZero();
        assertThat(kbc.read(2, 1)).isEqualTo(0xFF); // port 0x62: nothing there
    }

    @Test
    void statusTracksWhetherTheLastWriteWasACommand() {
        command(CMD_KBD_ENABLE);
        assertThat(status() & STR_CMDDAT).isNotZero();
        data(KBD_ENABLE);
        assertThat(status() & STR_CMDDAT).isZero();
    }
}
