package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.IpProto;

/**
 * An ingress allow rule: protocol, destination port range (TCP/UDP only) and source CIDR.
 * Rules only allow; anything not allowed and not part of a tracked flow is denied.
 */
public record SecurityRule(int protocol, int fromPort, int toPort, Cidr source) {
    public SecurityRule {
        if (protocol != IpProto.TCP && protocol != IpProto.UDP && protocol != IpProto.ICMP) {
            throw new IllegalArgumentException("protocol must be tcp, udp or icmp");
        }
        if (protocol == IpProto.ICMP) {
            fromPort = 0;
            toPort = 65535;
        }
        if (fromPort < 0 || toPort > 65535 || fromPort > toPort) {
            throw new IllegalArgumentException("bad port range " + fromPort + "-" + toPort);
        }
    }

    /** Parses "tcp"/"udp"/"icmp" and "A-B" or "A" (null = all ports). */
    public static SecurityRule of(String proto, String ports, String from) {
        int p = switch (proto.toLowerCase(java.util.Locale.ROOT)) {
            case "tcp" -> IpProto.TCP;
            case "udp" -> IpProto.UDP;
            case "icmp" -> IpProto.ICMP;
            default -> throw new IllegalArgumentException("protocol must be tcp, udp or icmp: " + proto);
        };
        int lo = 0;
        int hi = 65535;
        if (ports != null && !ports.isEmpty()) {
            if (p == IpProto.ICMP) {
                throw new IllegalArgumentException("icmp rules take no port range");
            }
            String[] ab = ports.split("-", -1);
            try {
                lo = Integer.parseInt(ab[0]);
                hi = ab.length == 1 ? lo : Integer.parseInt(ab[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("port range must be A-B or A: " + ports);
            }
            if (ab.length > 2) {
                throw new IllegalArgumentException("port range must be A-B or A: " + ports);
            }
        }
        return new SecurityRule(p, lo, hi, Cidr.parse(from));
    }

    /** Parses the {@link #toString()} form: {@code "tcp ports 22-22 from 0.0.0.0/0"}, {@code "icmp from 10.0.0.0/8"}. */
    public static SecurityRule parse(String s) {
        String[] w = s.trim().split("\\s+");
        if (w.length == 3 && w[1].equals("from")) {
            return of(w[0], null, w[2]);
        }
        if (w.length == 5 && w[1].equals("ports") && w[3].equals("from")) {
            return of(w[0], w[2], w[4]);
        }
        throw new IllegalArgumentException("not a rule (PROTO [ports A-B] from CIDR): " + s);
    }

    public boolean matches(int proto, int srcIp, int dstPort) {
        return proto == protocol && source.contains(srcIp) && dstPort >= fromPort && dstPort <= toPort;
    }

    @Override
    public String toString() {
        String ports = protocol == IpProto.ICMP ? "" : " ports " + fromPort + "-" + toPort;
        return IpProto.name(protocol) + ports + " from " + source;
    }
}
