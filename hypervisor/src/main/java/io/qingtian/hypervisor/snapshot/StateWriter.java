package io.qingtian.hypervisor.snapshot;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Writes one device state record: big-endian integers, booleans as one byte, byte arrays
 * with a u32 length prefix. The counterpart of {@link StateReader}; a record's encode and
 * decode name the same fields in the same order.
 */
public final class StateWriter {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final DataOutputStream out = new DataOutputStream(bytes);

    public StateWriter u8(int v) {
        return run(() -> out.writeByte(v));
    }

    public StateWriter u16(int v) {
        return run(() -> out.writeShort(v));
    }

    public StateWriter i32(int v) {
        return run(() -> out.writeInt(v));
    }

    public StateWriter i64(long v) {
        return run(() -> out.writeLong(v));
    }

    public StateWriter bool(boolean v) {
        return run(() -> out.writeByte(v ? 1 : 0));
    }

    public StateWriter bytes(byte[] v) {
        return run(() -> {
            out.writeInt(v.length);
            out.write(v);
        });
    }

    public StateWriter ints(int[] v) {
        return run(() -> {
            out.writeInt(v.length);
            for (int x : v) {
                out.writeInt(x);
            }
        });
    }

    public StateWriter longs(long[] v) {
        return run(() -> {
            out.writeInt(v.length);
            for (long x : v) {
                out.writeLong(x);
            }
        });
    }

    public byte[] toByteArray() {
        return bytes.toByteArray();
    }

    private interface IoAction {
        void run() throws IOException;
    }

    private StateWriter run(IoAction a) {
        try {
            a.run(); // a ByteArrayOutputStream never fails
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return this;
    }
}
