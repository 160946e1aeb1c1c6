package io.qingtian.hypervisor.snapshot;

import java.nio.ByteBuffer;

/**
 * Reads one device state record strictly: every read is bounds-checked against what is left,
 * a declared array length larger than the rest of the record or than the caller's limit is
 * refused, a boolean must be 0 or 1, and {@link #end()} insists that nothing is left over.
 * Every failure is a {@link SnapshotException} that names the record and the field.
 */
public final class StateReader {
    private final String what;
    private final ByteBuffer in;

    public StateReader(String what, byte[] blob) {
        this.what = what;
        this.in = ByteBuffer.wrap(blob);
    }

    public int u8(String field) {
        need(1, field);
        return in.get() & 0xff;
    }

    public int u16(String field) {
        need(2, field);
        return in.getShort() & 0xffff;
    }

    public int i32(String field) {
        need(4, field);
        return in.getInt();
    }

    public long i64(String field) {
        need(8, field);
        return in.getLong();
    }

    public boolean bool(String field) {
        int b = u8(field);
        if (b > 1) {
            throw bad(field + " is " + b + ", not a boolean");
        }
        return b == 1;
    }

    /** A byte array of at most {@code max} bytes. */
    public byte[] bytes(String field, int max) {
        int n = length(field, max, 1);
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    /** A byte array of exactly {@code n} bytes. */
    public byte[] bytesExactly(String field, int n) {
        byte[] b = bytes(field, n);
        if (b.length != n) {
            throw bad(field + " has " + b.length + " bytes, expected " + n);
        }
        return b;
    }

    public int[] ints(String field, int max) {
        int n = length(field, max, 4);
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = in.getInt();
        }
        return v;
    }

    public long[] longs(String field, int max) {
        int n = length(field, max, 8);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = in.getLong();
        }
        return v;
    }

    /** A register value that must fit in {@code bits} bits. */
    public int register(String field, int bits) {
        int v = i32(field);
        if (v < 0 || (bits < 31 && v >= (1 << bits))) {
            throw bad(field + " = " + v + " does not fit in " + bits + " bits");
        }
        return v;
    }

    /** Nothing may follow the last field. */
    public void end() {
        if (in.hasRemaining()) {
            throw bad(in.remaining() + " unexpected bytes after the last field");
        }
    }

    public SnapshotException bad(String why) {
        return new SnapshotException("corrupt snapshot: device state '" + what + "': " + why);
    }

    private int length(String field, int max, int elementSize) {
        int n = i32(field + " length");
        if (n < 0 || n > max) {
            throw bad(field + " length " + n + " is outside 0.." + max);
        }
        if ((long) n * elementSize > in.remaining()) {
            throw bad(field + " is truncated (" + n + " elements declared, " + in.remaining() + " bytes left)");
        }
        return n;
    }

    private void need(int n, String field) {
        if (in.remaining() < n) {
            throw bad("truncated at " + field);
        }
    }

}
