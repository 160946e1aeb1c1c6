package io.qingtian.acpi;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds one System Description Table: the 36-byte header (ACPI 6.4 section 5.2.6,
 * Table 5.4) followed by the table's own fields, little endian. {@link #finish()} fills
 * in Length and the Checksum that makes the whole table sum to zero.
 */
final class Sdt {
    static final int HEADER_SIZE = 36;
    static final String OEM_ID = "QTIANJ";
    static final String CREATOR_ID = "QTIJ";
    static final int OEM_REVISION = 1;
    static final int CREATOR_REVISION = 1;
    private static final int LENGTH_OFFSET = 4;
    private static final int CHECKSUM_OFFSET = 9;

    private byte[] buf = new byte[256];
    private int len;

    /** A table with the project's OEM fields; the OEM Table ID is "QTJ" + signature. */
    Sdt(String signature, int revision) {
        ascii(signature, 4);
        u32(0); // Length, filled by finish()
        u8(revision);
        u8(0); // Checksum, filled by finish()
        ascii(OEM_ID, 6);
        ascii(("QTJ" + signature + "    ").substring(0, 8), 8);
        u32(OEM_REVISION);
        ascii(CREATOR_ID, 4);
        u32(CREATOR_REVISION);
    }

    int size() {
        return len;
    }

    Sdt u8(int v) {
        ensure(1);
        buf[len++] = (byte) v;
        return this;
    }

    Sdt u16(int v) {
        return le(v, 2);
    }

    Sdt u32(long v) {
        return le(v, 4);
    }

    Sdt u64(long v) {
        return le(v, 8);
    }

    Sdt bytes(byte[] b) {
        ensure(b.length);
        System.arraycopy(b, 0, buf, len, b.length);
        len += b.length;
        return this;
    }

    Sdt zeros(int n) {
        ensure(n);
        len += n;
        return this;
    }

    Sdt ascii(String s, int n) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        if (b.length != n) {
            throw new IllegalArgumentException("field must be " + n + " ASCII characters: " + s);
        }
        return bytes(b);
    }

    /** Generic Address Structure (5.2.3.2): 12 bytes. */
    Sdt gas(GenericAddress g) {
        u8(g.spaceId());
        u8(g.bitWidth());
        u8(g.bitOffset());
        u8(g.accessSize());
        return u64(g.address());
    }

    /** Sets Length and Checksum; returns the finished table. */
    byte[] finish() {
        byte[] t = Arrays.copyOf(buf, len);
        Aml.putLe(t, LENGTH_OFFSET, len, 4);
        t[CHECKSUM_OFFSET] = checksum(t, 0, len);
        return t;
    }

    /** The byte that makes {@code b[off..off+n)} sum to zero modulo 256 (with it in place of 0). */
    static byte checksum(byte[] b, int off, int n) {
        int sum = 0;
        for (int i = off; i < off + n; i++) {
            sum += b[i] & 0xFF;
        }
        return (byte) -sum;
    }

    private Sdt le(long v, int n) {
        ensure(n);
        Aml.putLe(buf, len, v, n);
        len += n;
        return this;
    }

    private void ensure(int n) {
        if (len + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + n));
        }
    }
}
