package io.qingtian.hypervisor.snapshot;

import static io.qingtian.hypervisor.snapshot.DeviceState.check;

import java.util.List;

/**
 * A 16550A UART ({@code Serial16550}): its registers, the receive FIFO's bytes in order, the
 * interrupt state and the host input not yet delivered. The IRQ line level is not stored: it
 * follows from the registers and is driven again on restore.
 *
 * @param rxFifo    received bytes the guest has not read, oldest first (at most 16)
 * @param hostInput host input held back by flow control, oldest first
 */
public record SerialState(int ier, int lcr, int mcr, int lsrErrors, int msrDeltas, int msrStatus, int scr, int dll,
                          int dlm, boolean fifoEnabled, int rxTrigger, boolean thriPending, byte[] rxFifo,
                          byte[] hostInput) implements DeviceState {
    public static final int VERSION = 1;
    public static final int FIFO_SIZE = 16;
    public static final int MAX_HOST_INPUT = 64 * 1024;

    public SerialState {
        check("ier", ier, 0, 0x0f);
        check("lcr", lcr, 0, 0xff);
        check("mcr", mcr, 0, 0x1f);
        check("lsr errors", lsrErrors, 0, 0x1e);
        check("msr deltas", msrDeltas, 0, 0x0f);
        check("msr status", msrStatus, 0, 0xf0);
        check("scr", scr, 0, 0xff);
        check("dll", dll, 0, 0xff);
        check("dlm", dlm, 0, 0xff);
        if (rxTrigger != 1 && rxTrigger != 4 && rxTrigger != 8 && rxTrigger != 14) {
            throw new IllegalArgumentException("rx trigger level " + rxTrigger + " is not 1, 4, 8 or 14");
        }
        check("rx FIFO length", rxFifo.length, 0, fifoEnabled ? FIFO_SIZE : 1);
        check("host input length", hostInput.length, 0, MAX_HOST_INPUT);
        rxFifo = rxFifo.clone();
        hostInput = hostInput.clone();
    }

    @Override
    public byte[] rxFifo() {
        return rxFifo.clone();
    }

    @Override
    public byte[] hostInput() {
        return hostInput.clone();
    }

    @Override
    public int kind() {
        return KIND_SERIAL;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public void encodeBody(StateWriter w) {
        w.i32(ier).i32(lcr).i32(mcr).i32(lsrErrors).i32(msrDeltas).i32(msrStatus).i32(scr).i32(dll).i32(dlm)
                .bool(fifoEnabled).i32(rxTrigger).bool(thriPending).bytes(rxFifo).bytes(hostInput);
    }

    static SerialState decodeBody(StateReader r, int version) {
        DeviceState.requireVersion(r, "serial", version, List.of(VERSION));
        return new SerialState(r.i32("ier"), r.i32("lcr"), r.i32("mcr"), r.i32("lsr errors"), r.i32("msr deltas"),
                r.i32("msr status"), r.i32("scr"), r.i32("dll"), r.i32("dlm"), r.bool("fifo enabled"),
                r.i32("rx trigger"), r.bool("thri pending"), r.bytes("rx fifo", FIFO_SIZE),
                r.bytes("host input", MAX_HOST_INPUT));
    }
}
