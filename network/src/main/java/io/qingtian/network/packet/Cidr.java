package io.qingtian.network.packet;

/**
 * An IPv4 prefix such as {@code 10.0.1.0/24}. The network address must have its host bits
 * clear, so a typo like {@code 10.0.1.7/24} is an error rather than a silent surprise.
 */
public record Cidr(Ipv4Address network, int prefixLength) {
    public Cidr {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("prefix length must be 0..32: /" + prefixLength);
        }
        if ((network.bits() & ~mask(prefixLength)) != 0) {
            throw new IllegalArgumentException("host bits set in " + network + "/" + prefixLength);
        }
    }

    public static Cidr parse(String s) {
        int slash = s.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("not a CIDR (a.b.c.d/n): " + s);
        }
        String len = s.substring(slash + 1);
        if (len.isEmpty() || len.length() > 2 || !len.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("not a CIDR (a.b.c.d/n): " + s);
        }
        return new Cidr(Ipv4Address.parse(s.substring(0, slash)), Integer.parseInt(len));
    }

    static int mask(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    public int mask() {
        return mask(prefixLength);
    }

    public Ipv4Address netmask() {
        return new Ipv4Address(mask());
    }

    public boolean contains(Ipv4Address a) {
        return contains(a.bits());
    }

    public boolean contains(int addr) {
        return (addr & mask()) == network.bits();
    }

    public boolean contains(Cidr other) {
        return other.prefixLength >= prefixLength && contains(other.network);
    }

    public boolean overlaps(Cidr other) {
        return contains(other.network) || other.contains(network);
    }

    /** The subnet's directed broadcast address. */
    public Ipv4Address broadcast() {
        return new Ipv4Address(network.bits() | ~mask());
    }

    /** The first host address; by convention the subnet's gateway. */
    public Ipv4Address firstHost() {
        return network.plus(1);
    }

    /** Number of addresses usable by hosts (excluding network and broadcast). */
    public long usableHosts() {
        long size = 1L << (32 - prefixLength);
        return Math.max(0, size - 2);
    }

    @Override
    public String toString() {
        return network + "/" + prefixLength;
    }
}
