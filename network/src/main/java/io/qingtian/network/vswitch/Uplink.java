package io.qingtian.network.vswitch;

import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.util.HashMap;
import java.util.Map;

/**
 * A VPC's external port (a TAP device on the host). The switch acts as the VPC's router on
 * it: it answers ARP for every address in the VPC's CIDR with {@link #mac()}, sends
 * traffic for addresses outside the VPC to the MAC learned for the destination (from ARP
 * and IP traffic on the uplink) or to the peer's MAC, and routes traffic for VPC addresses
 * to the owning port, subject to that port's security groups.
 *
 * <p>Its counters, learned addresses and sink are guarded by its own lock (this object); the
 * switch never takes a port's lock while holding it.
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
    /** The uplink side's parse result, used under this uplink's lock. */
    final ParsedFrame parsed = new ParsedFrame();

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

    public synchronized MacAddress peerMac() {
        return new MacAddress(peerMac);
    }

    /** The MAC for an external destination: learned for its IP, else the peer's; call with this lock held. */
    long nextHop(int ip) {
        Long learnedMac = learned.get(ip);
        return learnedMac != null ? learnedMac : peerMac;
    }
}
