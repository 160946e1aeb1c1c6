package io.qingtian.network.packet;

/** IANA protocol numbers used by the switch. */
public final class IpProto {
    public static final int ICMP = 1;
    public static final int TCP = 6;
    public static final int UDP = 17;

    private IpProto() {}

    public static String name(int proto) {
        return switch (proto) {
            case ICMP -> "icmp";
            case TCP -> "tcp";
            case UDP -> "udp";
            default -> Integer.toString(proto);
        };
    }
}
