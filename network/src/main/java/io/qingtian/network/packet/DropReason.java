package io.qingtian.network.packet;

/**
 * Why the switch discarded a frame. Every drop is counted per port under exactly one
 * reason, so an operator can tell a hostile guest from a misconfiguration from congestion.
 */
public enum DropReason {
    /** Shorter than the headers it claims (Ethernet, ARP, IPv4, UDP, TCP, ICMP). */
    RUNT,
    /** Longer than 14 + MTU (1500) bytes; we offer no TSO/GSO so nothing larger is legitimate. */
    OVERSIZED,
    /** 802.1Q tagged: VLANs are not part of the VPC model. */
    VLAN_TAGGED,
    /** Neither IPv4 nor ARP (IPv6 included: the VPC is IPv4-only for now). */
    UNSUPPORTED_ETHERTYPE,
    /** ARP with wrong hardware/protocol type or lengths, or an unknown opcode. */
    BAD_ARP,
    /** IPv4 header: bad version, IHL or total length. */
    BAD_IP_HEADER,
    BAD_IP_CHECKSUM,
    /** IPv4 fragments are not reassembled: security groups need the L4 header (MTU 1500 avoids them). */
    IP_FRAGMENT,
    /** UDP length or TCP data offset inconsistent with the IP payload. */
    BAD_L4_HEADER,
    BAD_L4_CHECKSUM,
    /** A guest used a source MAC other than its own (Ethernet or ARP sender). */
    SPOOFED_MAC,
    /** A guest used a source IP other than its own (IPv4 or ARP sender). */
    SPOOFED_IP,
    /** Malformed DHCP, or a DHCP request for a hardware address other than the port's. */
    BAD_DHCP,
    /** Denied by the destination port's security groups (no rule and no tracked flow). */
    SECURITY_GROUP,
    /** The connection table of the destination port is full. */
    CONNTRACK_FULL,
    /** Over the port's packets/s or bits/s budget. */
    RATE_LIMIT,
    /** TTL would reach zero on routing. */
    TTL_EXCEEDED,
    /** No subnet, port or uplink for the destination, or a frame not addressed to the router MAC. */
    NO_ROUTE,
    /** Broadcast or multicast IP other than DHCP (no flooding of IP broadcast between guests). */
    MULTICAST,
    /** ARP or traffic for an address the switch does not answer and will not forward. */
    UNKNOWN_DESTINATION,
    /** Link down or the port's backend could not take the frame (no rx buffers, queue not ready). */
    PORT_DOWN,
    /** The backend had no receive buffers for a frame addressed to this port. */
    NO_RX_BUFFER,
    /** A bad virtio-net header or a descriptor chain the device could not use. */
    BAD_VIRTIO_HEADER,
    /** Traffic to the metadata address that is not TCP port 80. */
    METADATA_REJECTED,
    /**
     * The first frame of a new flow that was in flight while the switch's configuration
     * changed (a rule, a port): not tracked under the configuration it started with, dropped
     * instead; the guest's retransmission is decided under the new one.
     */
    RECONFIGURED;
}
