package io.qingtian.network.packet;

/** Ethernet II type values (IEEE 802 numbers) and frame geometry. */
public final class EtherType {
    public static final int IPV4 = 0x0800;
    public static final int ARP = 0x0806;
    public static final int VLAN = 0x8100;
    public static final int QINQ = 0x88a8;

    /** Destination MAC, source MAC, type. */
    public static final int HEADER_LEN = 14;
    /** The VPC's MTU: the largest IPv4 packet a port may send or receive. */
    public static final int MTU = 1500;
    public static final int MAX_FRAME = HEADER_LEN + MTU;

    private EtherType() {}
}
