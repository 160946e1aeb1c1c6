package io.qingtian.network.packet;

/** The Internet checksum (RFC 1071): one's complement of the one's complement sum. */
public final class Checksum {
    private Checksum() {}

    private static final java.lang.invoke.VarHandle LONG_BE =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.BIG_ENDIAN);
    private static final java.lang.invoke.VarHandle LONG_LE =
            java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

    /**
     * Adds {@code len} bytes at {@code off} to a running partial sum. Eight bytes at a time as
     * two 32-bit words: one's complement addition is associative and 2^16 = 1 modulo
     * 2^16 - 1, so wider partial sums fold to the same 16-bit result (RFC 1071 §2(B)).
     */
    public static long add(long sum, byte[] b, int off, int len) {
        int i = off;
        int end = off + len;
        if (len >= 32) {
            // The bulk of a large segment (a 1500-byte frame's UDP/TCP checksum was most of the
            // switch's cost per frame): words in the CPU's byte order, so no byte swap per load,
            // and four independent sums, so the additions do not wait for each other. The sum of
            // byte-swapped 16-bit words is the byte-swapped sum (RFC 1071 §2(B), byte order
            // independence): fold to 16 bits, swap once, add to the big-endian sum.
            long s0 = 0;
            long s1 = 0;
            long s2 = 0;
            long s3 = 0;
            while (i + 31 < end) {
                long v0 = (long) LONG_LE.get(b, i);
                long v1 = (long) LONG_LE.get(b, i + 8);
                long v2 = (long) LONG_LE.get(b, i + 16);
                long v3 = (long) LONG_LE.get(b, i + 24);
                s0 += (v0 >>> 32) + (v0 & 0xffffffffL);
                s1 += (v1 >>> 32) + (v1 & 0xffffffffL);
                s2 += (v2 >>> 32) + (v2 & 0xffffffffL);
                s3 += (v3 >>> 32) + (v3 & 0xffffffffL);
                i += 32;
            }
            // Each s is below 2^33 × (len / 32): the halves' sum cannot overflow a long.
            long le = (s0 & 0xffffffffL) + (s0 >>> 32) + (s1 & 0xffffffffL) + (s1 >>> 32)
                    + (s2 & 0xffffffffL) + (s2 >>> 32) + (s3 & 0xffffffffL) + (s3 >>> 32);
            while ((le >>> 16) != 0) {
                le = (le & 0xffff) + (le >>> 16);
            }
            sum += ((le & 0xff) << 8) | (le >>> 8);
        }
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
