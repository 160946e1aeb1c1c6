package io.qingtian.network.packet;

/** The Internet checksum (RFC 1071): one's complement of the one's complement sum. */
public final class Checksum {
    private Checksum() {}

    private static final java.lang.invoke.VarHandle LONG_BE =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.BIG_ENDIAN);

    /**
     * Adds {@code len} bytes at {@code off} to a running partial sum. Eight bytes at a time as
     * two 32-bit words: one's complement addition is associative and 2^16 = 1 modulo
     * 2^16 - 1, so wider partial sums fold to the same 16-bit result (RFC 1071 §2(B)).
     */
    public static long add(long sum, byte[] b, int off, int len) {
        int i = off;
        int end = off + len;
        while (i + 7 < end) {
            long v = (long) LONG_BE.get(b, i);
            sum += (v >>> 32) + (v & 0xffffffffL);
            i += 8;
        }
        while (i + 1 < end) {
            sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
            i += 2;
        }
        if (i < end) {
            sum += (b[i] & 0xff) << 8;
        }
        return sum;
    }

    public static int fold(long sum) {
        sum = (sum & 0xffffffffL) + (sum >>> 32);
        sum = (sum & 0xffffffffL) + (sum >>> 32);
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }

    public static int compute(byte[] b, int off, int len) {
        return fold(add(0, b, off, len));
    }

    /** Sum of the IPv4 pseudo header (RFC 793 §3.1, RFC 768) for TCP/UDP checksums. */
    public static long pseudoHeader(int srcIp, int dstIp, int proto, int l4Len) {
        return ((srcIp >>> 16) & 0xffff) + (srcIp & 0xffff) + ((dstIp >>> 16) & 0xffff) + (dstIp & 0xffff)
                + proto + l4Len;
    }

    /** Checksum over pseudo header and L4 segment; 0 means the segment verifies. */
    public static int l4(byte[] b, int l4Off, int l4Len, int srcIp, int dstIp, int proto) {
        return fold(add(pseudoHeader(srcIp, dstIp, proto, l4Len), b, l4Off, l4Len));
    }
}
