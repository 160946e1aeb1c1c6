package io.qingtian.network.packet;

/** An IPv4 address as its 32 bits in network order (most significant octet first). */
public record Ipv4Address(int bits) implements Comparable<Ipv4Address> {
    public static final Ipv4Address ANY = new Ipv4Address(0);
    public static final Ipv4Address BROADCAST = new Ipv4Address(-1);
    /** The link-local metadata address cloud guests use (169.254.169.254). */
    public static final Ipv4Address METADATA = parse("169.254.169.254");

    /** Parses dotted-quad notation strictly (four decimal octets 0..255, no leading '+'). */
    public static Ipv4Address parse(String s) {
        String[] parts = s.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address: " + s);
        }
        int v = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new IllegalArgumentException("not an IPv4 address: " + s);
            }
            int o = Integer.parseInt(p);
            if (o > 255) {
                throw new IllegalArgumentException("not an IPv4 address: " + s);
            }
            v = (v << 8) | o;
        }
        return new Ipv4Address(v);
    }

    public static Ipv4Address read(byte[] b, int off) {
        return new Ipv4Address(Bytes.i32(b, off));
    }

    public void write(byte[] b, int off) {
        Bytes.put32(b, off, bits);
    }

    public Ipv4Address plus(int n) {
        return new Ipv4Address(bits + n);
    }

    @Override
    public int compareTo(Ipv4Address o) {
        return Integer.compareUnsigned(bits, o.bits);
    }

    @Override
    public String toString() {
        return (bits >>> 24) + "." + ((bits >>> 16) & 0xff) + "." + ((bits >>> 8) & 0xff) + "." + (bits & 0xff);
    }
}
