package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * A vNIC's port on the switch, bound to one subnet with the IP and MAC the control plane
 * assigned. The guest may only ever send as this MAC/IP (anti-spoofing).
 */
public final class Port {
    private final String name;
    private final Subnet subnet;
    private final MacAddress mac;
    private final Ipv4Address ip;
    private final String instanceId;
    final List<SecurityGroup> groups = new ArrayList<>();
    final PortCounters counters = new PortCounters();
    final ConnTrack conntrack;
    RateLimit rateLimit = RateLimit.NONE;
    RateLimit.Limiter limiter;
    FrameSink sink;
    boolean linkUp;
    /** Removed from the switch ({@link VirtualSwitch#deletePort}): its frames are dropped. */
    boolean deleted;

    Port(String name, Subnet subnet, MacAddress mac, Ipv4Address ip, String instanceId, int maxFlows) {
        this.name = name;
        this.subnet = subnet;
        this.mac = mac;
        this.ip = ip;
        this.instanceId = instanceId;
        this.conntrack = new ConnTrack(maxFlows);
    }

    public String name() {
        return name;
    }

    public Subnet subnet() {
        return subnet;
    }

    public MacAddress mac() {
        return mac;
    }

    public Ipv4Address ip() {
        return ip;
    }

    public String instanceId() {
        return instanceId;
    }

    public RateLimit rateLimit() {
        return rateLimit;
    }

    public List<String> securityGroups() {
        return groups.stream().map(SecurityGroup::name).toList();
    }

    /** Whether a backend is attached and its link is up. */
    public boolean linkUp() {
        return linkUp && sink != null;
    }

    boolean ingressAllowed(int proto, int srcIp, int dstPort) {
        for (int i = 0; i < groups.size(); i++) {
            if (groups.get(i).allows(proto, srcIp, dstPort)) {
                return true;
            }
        }
        return false;
    }
}
