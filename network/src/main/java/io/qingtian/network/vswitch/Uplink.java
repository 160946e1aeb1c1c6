package io.qingtian.network.vswitch;

import io.qingtian.network.packet.MacAddress;
import java.util.HashMap;
import java.util.Map;

/**
 * A VPC's external port (a TAP device on the host). The switch acts as the VPC's router on
 * it: it answers ARP for every address in the VPC's CIDR with {@link #mac()}, sends
 * traffic for addresses outside the VPC to the MAC learned for the destination (from ARP
 * and IP traffic on the uplink) or to the peer's MAC, and routes traffic for VPC addresses
 * to the owning port, subject to that port's security groups.
 */
public final class Uplink {
    private final String name;
    private final Vpc vpc;
    private final MacAddress mac;
    final PortCounters counters = new PortCounters();
    /** External IP → MAC, learned from the uplink (MAC learning on the external side). */
    final Map<Integer, Long> learned = new HashMap<>();
    long peerMac;
    FrameSink sink;

    Uplink(String name, Vpc vpc, MacAddress mac, MacAddress peerMac) {
        this.name = name;
        this.vpc = vpc;
        this.mac = mac;
        this.peerMac = peerMac == null ? MacAddress.BROADCAST.bits() : peerMac.bits();
    }

    public String name() {
        return name;
    }

    public Vpc vpc() {
        return vpc;
    }

    /** The switch's router MAC on the external side. */
    public MacAddress mac() {
        return mac;
    }

    public MacAddress peerMac() {
        return new MacAddress(peerMac);
    }
}
