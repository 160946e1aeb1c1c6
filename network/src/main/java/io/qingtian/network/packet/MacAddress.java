package io.qingtian.network.packet;

import java.util.HexFormat;
import java.util.random.RandomGenerator;

/** A 48-bit IEEE 802 MAC address held in the low bits of a long. */
public record MacAddress(long bits) {
    public static final MacAddress BROADCAST = new MacAddress(0xffff_ffff_ffffL);
    public static final MacAddress ZERO = new MacAddress(0);

    public MacAddress {
        if ((bits & ~0xffff_ffff_ffffL) != 0) {
            throw new IllegalArgumentException("MAC address wider than 48 bits");
        }
    }

    /** Parses {@code aa:bb:cc:dd:ee:ff}; throws IllegalArgumentException with a one-line message. */
    public static MacAddress parse(String s) {
        String[] parts = s.split(":", -1);
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address (aa:bb:cc:dd:ee:ff): " + s);
        }
        long v = 0;
        for (String p : parts) {
            if (p.length() != 2 || !HexFormat.isHexDigit(p.charAt(0)) || !HexFormat.isHexDigit(p.charAt(1))) {
                throw new IllegalArgumentException("not a MAC address (aa:bb:cc:dd:ee:ff): " + s);
            }
            v = (v << 8) | Integer.parseInt(p, 16);
        }
        return new MacAddress(v);
    }

    /** A random locally administered unicast address (IEEE 802: bit 1 of octet 0 set, bit 0 clear). */
    public static MacAddress randomLocal(RandomGenerator rnd) {
        long v = rnd.nextLong() & 0xffff_ffff_ffffL;
        v = (v & ~(0x01L << 40)) | (0x02L << 40);
        return new MacAddress(v);
    }

    public static MacAddress read(byte[] b, int off) {
        return new MacAddress(Bytes.u48(b, off));
    }

    public void write(byte[] b, int off) {
        Bytes.put48(b, off, bits);
    }

    /** Group bit (I/G) set: broadcast or multicast. */
    public boolean isMulticast() {
        return (bits & (0x01L << 40)) != 0;
    }

    public boolean isBroadcast() {
        return bits == BROADCAST.bits;
    }

    public byte[] toBytes() {
        byte[] b = new byte[6];
        write(b, 0);
        return b;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(17);
        for (int i = 5; i >= 0; i--) {
            sb.append(HexFormat.of().toHexDigits((byte) (bits >>> (i * 8))));
            if (i > 0) {
                sb.append(':');
            }
        }
        return sb.toString();
    }
}
