package io.qingtian.network.vswitch;

import io.qingtian.network.packet.IpProto;

/**
 * Connection tracking for one port, from the port's point of view: a flow is (protocol,
 * remote IP, local port, remote port). An entry exists when the port sent on the flow
 * (egress is allowed by default) or when an ingress rule admitted it; either way later
 * packets in both directions pass, so replies need no rule and removing a rule does not
 * cut established flows — rule changes apply to new flows.
 *
 * <p>No TCP state machine: entries simply expire after an idle timeout (TCP 10 min, UDP
 * and ICMP 60 s), which is what stateless-to-stateful cloud filters commonly do.
 */
final class ConnTrack {
    static final long TCP_IDLE_NANOS = 600_000_000_000L;
    static final long OTHER_IDLE_NANOS = 60_000_000_000L;
    static final int DEFAULT_MAX_FLOWS = 16384;

    private final FlowTable tcp;
    private final FlowTable udp;
    private final FlowTable icmp;

    ConnTrack(int maxFlowsPerProtocol) {
        tcp = new FlowTable(maxFlowsPerProtocol);
        udp = new FlowTable(maxFlowsPerProtocol);
        icmp = new FlowTable(maxFlowsPerProtocol);
    }

    static long key(int remoteIp, int localPort, int remotePort) {
        return ((remoteIp & 0xffffffffL) << 32) | ((long) localPort << 16) | remotePort;
    }

    private FlowTable table(int proto) {
        return switch (proto) {
            case IpProto.TCP -> tcp;
            case IpProto.UDP -> udp;
            case IpProto.ICMP -> icmp;
            default -> null;
        };
    }

    /** Whether the flow is tracked (and refreshes it). Untracked protocols are never tracked. */
    boolean tracked(int proto, int remoteIp, int localPort, int remotePort, long now) {
        FlowTable t = table(proto);
        if (t == null) {
            return false;
        }
        long k = key(remoteIp, localPort, remotePort);
        if (t.live(k, now)) {
            t.put(k, now + idle(proto), now);
            return true;
        }
        return false;
    }

    /** Records a flow; false if the table is full. */
    boolean track(int proto, int remoteIp, int localPort, int remotePort, long now) {
        FlowTable t = table(proto);
        if (t == null) {
            return true;
        }
        return t.put(key(remoteIp, localPort, remotePort), now + idle(proto), now);
    }

    /**
     * Forgets every flow with {@code remoteIp}: its NIC was deleted, and a NIC created later
     * with the same address must not inherit the old one's established flows (replies would
     * pass this port's default deny without a rule).
     */
    void forgetRemote(int remoteIp) {
        tcp.removeHigh(remoteIp);
        udp.removeHigh(remoteIp);
        icmp.removeHigh(remoteIp);
    }

    int size() {
        return tcp.size() + udp.size() + icmp.size();
    }

    private static long idle(int proto) {
        return proto == IpProto.TCP ? TCP_IDLE_NANOS : OTHER_IDLE_NANOS;
    }
}
