package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Cidr;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The switch's forwarding state as one immutable snapshot: for every port its subnet, MAC, IP
 * and compiled ingress rules; for every subnet its members by MAC and by IP; for every VPC its
 * subnets and uplink. The control plane builds a new snapshot under the switch's lock after
 * each change and publishes it with one volatile write ({@link VirtualSwitch}); a frame reads
 * the current snapshot once and takes its whole forwarding decision from it without a lock
 * (read-copy-update: readers never wait for writers, as in Open vSwitch's userspace datapath,
 * whose classifier and flow tables are read lock-free by the forwarding threads while
 * revalidators publish changes). A rule change is therefore in effect for every frame that
 * starts after the change returned.
 *
 * <p>What changes per frame is not here: counters, connection tracking, rate-limit buckets
 * and the backend's sink belong to the {@link Port} and are guarded by its lock. The
 * MAC-to-port map is static because anti-spoofing lets a port teach the switch only its own
 * MAC; what learning adds is whether the port was heard within the aging time
 * ({@link Port#heardWithin}).
 */
final class Forwarding {
    static final Forwarding EMPTY = new Forwarding(new PortView[0], Map.of(), Map.of());

    /** By {@link Port#slot}; a slot may be reused, so the view's port is compared. */
    private final PortView[] bySlot;
    private final Map<String, Port> byName;
    private final Map<Vpc, VpcView> vpcs;

    private Forwarding(PortView[] bySlot, Map<String, Port> byName, Map<Vpc, VpcView> vpcs) {
        this.bySlot = bySlot;
        this.byName = byName;
        this.vpcs = vpcs;
    }

    /** The port's view, or null if the port is not (or no longer) part of the switch. */
    PortView view(Port p) {
        PortView[] a = bySlot;
        int s = p.slot;
        if (s < a.length) {
            PortView v = a[s];
            if (v != null && v.port == p) {
                return v;
            }
        }
        return null;
    }

    Port port(String name) {
        return byName.get(name);
    }

    VpcView vpc(Vpc v) {
        return vpcs.get(v);
    }

    /** Builds the snapshot of {@code vpcs} (the switch's control-plane objects, read under its lock). */
    static Forwarding build(List<Vpc> vpcs, int slots) {
        PortView[] bySlot = new PortView[slots];
        Map<String, Port> byName = new HashMap<>();
        Map<Vpc, VpcView> views = new IdentityHashMap<>();
        for (Vpc v : vpcs) {
            VpcView vv = new VpcView(v);
            SubnetView[] subnets = new SubnetView[v.subnets.size()];
            for (int i = 0; i < subnets.length; i++) {
                Subnet s = v.subnets.get(i);
                SubnetView sv = new SubnetView(s, vv);
                List<PortView> members = new ArrayList<>();
                for (Port p : s.ports) {
                    PortView pv = new PortView(p, sv, compile(p.groups));
                    members.add(pv);
                    bySlot[p.slot] = pv;
                    byName.put(p.name(), p);
                }
                sv.index(members.toArray(PortView[]::new));
                subnets[i] = sv;
            }
            vv.subnets = subnets;
            views.put(v, vv);
        }
        return new Forwarding(bySlot, Map.copyOf(byName), views);
    }

    /** The union of the groups' rules as (protocol, fromPort, toPort, network, mask) quintuples. */
    private static int[] compile(List<SecurityGroup> groups) {
        List<SecurityRule> all = new ArrayList<>();
        for (SecurityGroup g : groups) {
            for (SecurityRule r : g.rules()) {
                if (!all.contains(r)) {
                    all.add(r);
                }
            }
        }
        int[] out = new int[all.size() * 5];
        int k = 0;
        for (SecurityRule r : all) {
            Cidr c = r.source();
            out[k++] = r.protocol();
            out[k++] = r.fromPort();
            out[k++] = r.toPort();
            out[k++] = c.network().bits() & c.mask();
            out[k++] = c.mask();
        }
        return out;
    }

    private static int hash(long k) {
        k ^= k >>> 29;
        k *= 0xbf58476d1ce4e5b9L;
        k ^= k >>> 32;
        return (int) k;
    }

    /** A port as the data path sees it: where it is and what its security groups allow in. */
    static final class PortView {
        final Port port;
        final SubnetView subnet;
        final long mac;
        final int ip;
        /** Ingress allow rules, five ints each: protocol, fromPort, toPort, source network, mask. */
        private final int[] rules;

        PortView(Port port, SubnetView subnet, int[] rules) {
            this.port = port;
            this.subnet = subnet;
            this.mac = port.mac().bits();
            this.ip = port.ip().bits();
            this.rules = rules;
        }

        /** Whether an ingress rule admits a new flow (proto, from srcIp, to local dstPort). */
        boolean allows(int proto, int srcIp, int dstPort) {
            int[] r = rules;
            for (int i = 0; i < r.length; i += 5) {
                if (r[i] == proto && (srcIp & r[i + 4]) == r[i + 3] && dstPort >= r[i + 1] && dstPort <= r[i + 2]) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A subnet: its addresses and its ports, by MAC and by IP (open addressing, no allocation). */
    static final class SubnetView {
        final Subnet subnet;
        final VpcView vpc;
        final int network;
        final int mask;
        final int gateway;
        final int broadcast;
        final long gatewayMac;
        /** In creation order (the order unknown unicast is flooded in). */
        PortView[] ports;
        private long[] macKeys;
        private PortView[] byMac;
        private int[] ipKeys;
        private PortView[] byIp;
        private int tableMask;

        SubnetView(Subnet s, VpcView vpc) {
            this.subnet = s;
            this.vpc = vpc;
            this.mask = s.cidr().mask();
            this.network = s.cidr().network().bits() & mask;
            this.gateway = s.gateway().bits();
            this.broadcast = s.cidr().broadcast().bits();
            this.gatewayMac = s.gatewayMac().bits();
        }

        private void index(PortView[] members) {
            ports = members;
            int cap = Integer.highestOneBit(Math.max(4, members.length * 2 - 1)) << 1;
            macKeys = new long[cap];
            byMac = new PortView[cap];
            ipKeys = new int[cap];
            byIp = new PortView[cap];
            tableMask = cap - 1;
            for (PortView p : members) {
                int i = hash(p.mac) & tableMask;
                while (byMac[i] != null) {
                    i = (i + 1) & tableMask;
                }
                macKeys[i] = p.mac;
                byMac[i] = p;
                int j = hash(p.ip) & tableMask;
                while (byIp[j] != null) {
                    j = (j + 1) & tableMask;
                }
                ipKeys[j] = p.ip;
                byIp[j] = p;
            }
        }

        boolean contains(int ip) {
            return (ip & mask) == network;
        }

        /** The port with this MAC (its own: MACs are unique within a subnet), or null. */
        PortView byMac(long mac) {
            for (int i = hash(mac) & tableMask; byMac[i] != null; i = (i + 1) & tableMask) {
                if (macKeys[i] == mac) {
                    return byMac[i];
                }
            }
            return null;
        }

        PortView byIp(int ip) {
            for (int i = hash(ip) & tableMask; byIp[i] != null; i = (i + 1) & tableMask) {
                if (ipKeys[i] == ip) {
                    return byIp[i];
                }
            }
            return null;
        }
    }

    /** A VPC: its subnets (never overlapping) and its uplink. */
    static final class VpcView {
        final Vpc vpc;
        final int network;
        final int mask;
        final Uplink uplink;
        SubnetView[] subnets;

        VpcView(Vpc v) {
            this.vpc = v;
            this.mask = v.cidr().mask();
            this.network = v.cidr().network().bits() & mask;
            this.uplink = v.uplink;
        }

        boolean contains(int ip) {
            return (ip & mask) == network;
        }

        SubnetView subnetFor(int ip) {
            for (SubnetView s : subnets) {
                if (s.contains(ip)) {
                    return s;
                }
            }
            return null;
        }

        SubnetView subnetWithGateway(int ip) {
            for (SubnetView s : subnets) {
                if (s.gateway == ip) {
                    return s;
                }
            }
            return null;
        }
    }
}
