package io.qingtian.hypervisor.snapshot;

import static io.qingtian.hypervisor.snapshot.DeviceState.check;

import java.util.List;

/**
 * The i8042 keyboard controller ({@code I8042}): its internal RAM (byte 0 is the command
 * byte), status and output port, the command awaiting a data byte, the output buffer and the
 * controller's and keyboard's queued replies.
 *
 * @param pendingCommand         controller command awaiting its data byte, or -1
 * @param keyboardPendingCommand keyboard command awaiting its parameter, or -1
 */
public record I8042State(byte[] ram, int status, int outputPort, int pendingCommand, int portB,
                         boolean refreshToggle, int outputBuffer, byte[] controllerReplies, byte[] keyboardReplies,
                         int keyboardPendingCommand, boolean scanning) implements DeviceState {
    public static final int VERSION = 1;
    public static final int RAM_SIZE = 32;
    public static final int QUEUE_SIZE = 16;

    public I8042State {
        check("ram length", ram.length, RAM_SIZE, RAM_SIZE);
        check("status", status, 0, 0xff);
        check("output port", outputPort, 0, 0xff);
        check("pending command", pendingCommand, -1, 0xff);
        check("port B", portB, 0, 0xff);
        check("output buffer", outputBuffer, 0, 0xff);
        check("controller replies", controllerReplies.length, 0, QUEUE_SIZE);
        check("keyboard replies", keyboardReplies.length, 0, QUEUE_SIZE);
        check("keyboard pending command", keyboardPendingCommand, -1, 0xff);
        ram = ram.clone();
        controllerReplies = controllerReplies.clone();
        keyboardReplies = keyboardReplies.clone();
    }

    @Override
    public byte[] ram() {
        return ram.clone();
    }

    @Override
    public byte[] controllerReplies() {
        return controllerReplies.clone();
    }

    @Override
    public byte[] keyboardReplies() {
        return keyboardReplies.clone();
    }

    @Override
    public int kind() {
        return KIND_I8042;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public void encodeBody(StateWriter w) {
        w.bytes(ram).i32(status).i32(outputPort).i32(pendingCommand).i32(portB).bool(refreshToggle)
                .i32(outputBuffer).bytes(controllerReplies).bytes(keyboardReplies).i32(keyboardPendingCommand)
                .bool(scanning);
    }

    static I8042State decodeBody(StateReader r, int version) {
        DeviceState.requireVersion(r, "i8042", version, List.of(VERSION));
        return new I8042State(r.bytesExactly("ram", RAM_SIZE), r.i32("status"), r.i32("output port"),
                r.i32("pending command"), r.i32("port B"), r.bool("refresh toggle"), r.i32("output buffer"),
                r.bytes("controller replies", QUEUE_SIZE), r.bytes("keyboard replies", QUEUE_SIZE),
                r.i32("keyboard pending command"), r.bool("scanning"));
    }
}
