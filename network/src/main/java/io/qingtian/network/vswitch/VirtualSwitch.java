package io.qingtian.network.vswitch;

import io.qingtian.network.NetworkException;
import io.qingtian.network.packet.Bytes;
import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.IpProto;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.random.RandomGenerator;

/**
 * The card's virtual switch: VPCs, subnets, ports, security groups and uplinks, and the
 * forwarding path for frames from ports ({@link #fromPort}) and uplinks ({@link #fromUplink}).
 *
 * <p>Pure Java, no I/O: backends hand frames in and receive frames through {@link FrameSink}s.
 * One lock (this object) guards everything, control plane and data plane alike, so a rule
 * change is atomic with respect to forwarding and takes effect on the very next new flow.
 *
 * <p>Packet path for a frame from a port: rate limit → parse/validate → anti-spoofing (MAC,
 * then IP) → ARP responder / DHCP / metadata / gateway ICMP → egress tracking → L2 within
 * the subnet (learned MAC table, unknown unicast flooded in the subnet) or L3 via the
 * gateway (MAC rewrite, TTL decrement) to another subnet of the same VPC or the VPC's
 * uplink → destination security groups with connection tracking → the port's sink.
 */
public final class VirtualSwitch {
    private final LongSupplier clock;
    private final RandomGenerator random;
    private final Map<String, Vpc> vpcs = new LinkedHashMap<>();
    private final Map<String, Subnet> subnets = new LinkedHashMap<>();
    private final Map<String, SecurityGroup> groups = new LinkedHashMap<>();
    private final Map<String, Port> ports = new LinkedHashMap<>();
    private final Map<String, Uplink> uplinks = new LinkedHashMap<>();
    private final MetadataResponder metadata = new MetadataResponder();
    private final ParsedFrame pf = new ParsedFrame();
    private final int maxFlows;

    public VirtualSwitch() {
        this(System::nanoTime, RandomGenerator.of("L64X128MixRandom"), ConnTrack.DEFAULT_MAX_FLOWS);
    }

    /** For tests: an explicit clock (nanoseconds), random source for MACs, flow table size. */
    public VirtualSwitch(LongSupplier clock, RandomGenerator random, int maxFlowsPerProtocol) {
        this.clock = clock;
        this.random = random;
        this.maxFlows = maxFlowsPerProtocol;
    }

    // ---------------------------------------------------------------- control plane

    public synchronized Vpc createVpc(String name, Cidr cidr, String tenant) {
        requireName(name, "VPC");
        if (vpcs.containsKey(name)) {
            throw new NetworkException("VPC " + name + " already exists");
        }
        Vpc v = new Vpc(name, cidr, tenant == null ? "default" : tenant);
        vpcs.put(name, v);
        return v;
    }

    public synchronized Subnet createSubnet(String name, String vpcName, Cidr cidr, MacAddress gatewayMac,
                                            Ipv4Address dns) {
        requireName(name, "subnet");
        if (subnets.containsKey(name)) {
            throw new NetworkException("subnet " + name + " already exists");
        }
        Vpc vpc = vpc(vpcName);
        if (!vpc.cidr().contains(cidr)) {
            throw new NetworkException("subnet " + cidr + " is not inside VPC " + vpcName + " (" + vpc.cidr() + ")");
        }
        if (cidr.prefixLength() > 29) {
            throw new NetworkException("subnet " + cidr + " is too small (at most /29)");
        }
        for (Subnet s : vpc.subnets) {
            if (s.cidr().overlaps(cidr)) {
                throw new NetworkException("subnet " + cidr + " overlaps subnet " + s.name() + " (" + s.cidr() + ")");
            }
        }
        MacAddress mac = gatewayMac != null ? gatewayMac : freshMac();
        Subnet s = new Subnet(name, vpc, cidr, mac);
        s.dns = dns;
        vpc.subnets.add(s);
        subnets.put(name, s);
        return s;
    }

    public synchronized SecurityGroup createSecurityGroup(String name) {
        requireName(name, "security group");
        if (groups.containsKey(name)) {
            throw new NetworkException("security group " + name + " already exists");
        }
        SecurityGroup g = new SecurityGroup(name);
        groups.put(name, g);
        return g;
    }

    /** Adds an ingress allow rule; returns false if the group already had it. */
    public synchronized boolean addRule(String group, SecurityRule rule) {
        return securityGroup(group).add(rule);
    }

    public synchronized void removeRule(String group, SecurityRule rule) {
        if (!securityGroup(group).remove(rule)) {
            throw new NetworkException("security group " + group + " has no rule " + rule);
        }
    }

    /**
     * Creates a port in a subnet. {@code ip} null = the lowest free host address; {@code mac}
     * null = a fresh locally administered address.
     */
    public synchronized Port createPort(String name, String subnetName, Ipv4Address ip, MacAddress mac,
                                        List<String> securityGroups, String instanceId) {
        requireName(name, "NIC");
        if (ports.containsKey(name)) {
            throw new NetworkException("NIC " + name + " already exists");
        }
        Subnet s = subnet(subnetName);
        List<SecurityGroup> sgs = new ArrayList<>();
        for (String g : securityGroups) {
            sgs.add(securityGroup(g));
        }
        Ipv4Address addr = ip != null ? checkAddress(s, ip) : allocate(s);
        if (mac != null) {
            if (mac.isMulticast() || mac.bits() == 0) {
                throw new NetworkException("MAC " + mac + " is not a unicast address");
            }
            for (Port p : s.ports) {
                if (p.mac().equals(mac)) {
                    throw new NetworkException("MAC " + mac + " is already used by NIC " + p.name());
                }
            }
        }
        Port p = new Port(name, s, mac != null ? mac : freshMac(), addr,
                instanceId == null ? name : instanceId, maxFlows);
        p.groups.addAll(sgs);
        s.ports.add(p);
        s.portsByIp.put(addr.bits(), p);
        ports.put(name, p);
        return p;
    }

    /**
     * Removes a port: its address and MAC are free for a new NIC at once (DHCP keeps no
     * leases: the binding was the port), its counters are gone, and the VPC's other ports
     * forget their tracked flows with its address, so a NIC that later gets the address does
     * not inherit them. A backend still attached drains into {@code PORT_DOWN}.
     */
    public synchronized void deletePort(String name) {
        Port p = port(name);
        Subnet s = p.subnet();
        s.ports.remove(p);
        s.portsByIp.remove(p.ip().bits());
        s.macTable.forget(p);
        metadata.forget(p);
        ports.remove(name);
        p.sink = null;
        p.linkUp = false;
        for (Subnet o : s.vpc().subnets) {
            for (Port q : o.ports) {
                q.conntrack.forgetRemote(p.ip().bits());
            }
        }
    }

    public synchronized void setSecurityGroups(String portName, List<String> groupNames) {
        Port p = port(portName);
        List<SecurityGroup> sgs = new ArrayList<>();
        for (String g : groupNames) {
            sgs.add(securityGroup(g));
        }
        p.groups.clear();
        p.groups.addAll(sgs);
    }

    public synchronized void setRateLimit(String portName, RateLimit limit) {
        Port p = port(portName);
        p.rateLimit = limit;
        p.limiter = limit.unlimited() ? null : new RateLimit.Limiter(limit, clock.getAsLong());
    }

    /** Connects a backend to a port and brings its link up. */
    public synchronized void attach(String portName, FrameSink sink) {
        Port p = port(portName);
        p.sink = sink;
        p.linkUp = true;
    }

    public synchronized void detach(String portName) {
        Port p = port(portName);
        p.sink = null;
        p.linkUp = false;
    }

    public synchronized void setLink(String portName, boolean up) {
        port(portName).linkUp = up;
    }

    /**
     * Attaches the VPC's external port. {@code peerMac} is the MAC of the host side (the TAP
     * interface) if known; it is also learned from traffic.
     */
    public synchronized Uplink attachUplink(String vpcName, String name, MacAddress peerMac, FrameSink sink) {
        Vpc v = vpc(vpcName);
        if (v.uplink != null) {
            throw new NetworkException("VPC " + vpcName + " already has uplink " + v.uplink.name());
        }
        if (uplinks.containsKey(name)) {
            throw new NetworkException("uplink " + name + " is already attached to VPC " + uplinks.get(name).vpc().name());
        }
        Uplink u = new Uplink(name, v, freshMac(), peerMac);
        u.sink = sink;
        v.uplink = u;
        uplinks.put(name, u);
        return u;
    }

    public synchronized void detachUplink(String vpcName) {
        Vpc v = vpc(vpcName);
        if (v.uplink != null) {
            uplinks.remove(v.uplink.name());
            v.uplink.sink = null;
            v.uplink = null;
        }
    }

    public synchronized PortStats stats(String portName) {
        return port(portName).counters.snapshot(portName);
    }

    public synchronized PortStats uplinkStats(String vpcName) {
        Vpc v = vpc(vpcName);
        if (v.uplink == null) {
            throw new NetworkException("VPC " + vpcName + " has no uplink");
        }
        return v.uplink.counters.snapshot(v.uplink.name());
    }

    public synchronized Vpc vpc(String name) {
        Vpc v = vpcs.get(name);
        if (v == null) {
            throw new NetworkException("no VPC " + name);
        }
        return v;
    }

    public synchronized Subnet subnet(String name) {
        Subnet s = subnets.get(name);
        if (s == null) {
            throw new NetworkException("no subnet " + name);
        }
        return s;
    }

    public synchronized SecurityGroup securityGroup(String name) {
        SecurityGroup g = groups.get(name);
        if (g == null) {
            throw new NetworkException("no security group " + name);
        }
        return g;
    }

    public synchronized Port port(String name) {
        Port p = ports.get(name);
        if (p == null) {
            throw new NetworkException("no NIC " + name);
        }
        return p;
    }

    public synchronized List<Vpc> vpcs() {
        return List.copyOf(vpcs.values());
    }

    public synchronized List<Port> ports() {
        return List.copyOf(ports.values());
    }

    public synchronized List<SecurityGroup> securityGroups() {
        return List.copyOf(groups.values());
    }

    /** Tracked flows of a port (all protocols); for tests and stats. */
    public synchronized int trackedFlows(String portName) {
        return port(portName).conntrack.size();
    }

    private static void requireName(String name, String what) {
        if (name == null || !name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,62}")) {
            throw new NetworkException(what + " name must be 1-63 letters, digits, '.', '_' or '-': " + name);
        }
    }

    private Ipv4Address checkAddress(Subnet s, Ipv4Address ip) {
        if (!s.cidr().contains(ip)) {
            throw new NetworkException(ip + " is not in subnet " + s.name() + " (" + s.cidr() + ")");
        }
        if (ip.equals(s.cidr().network()) || ip.equals(s.cidr().broadcast()) || ip.equals(s.gateway())) {
            throw new NetworkException(ip + " is reserved in subnet " + s.name() + " (network, gateway or broadcast)");
        }
        Port used = s.portByIp(ip.bits());
        if (used != null) {
            throw new NetworkException(ip + " is already used by NIC " + used.name());
        }
        return ip;
    }

    private static Ipv4Address allocate(Subnet s) {
        Cidr c = s.cidr();
        for (int a = s.gateway().bits() + 1; a != c.broadcast().bits(); a++) {
            if (s.portByIp(a) == null) {
                return new Ipv4Address(a);
            }
        }
        throw new NetworkException("subnet " + s.name() + " (" + c + ") has no free address");
    }

    private MacAddress freshMac() {
        while (true) {
            MacAddress m = MacAddress.randomLocal(random);
            boolean used = false;
            for (Port p : ports.values()) {
                used |= p.mac().equals(m);
            }
            for (Subnet s : subnets.values()) {
                used |= s.gatewayMac().equals(m);
            }
            if (!used && m.bits() != 0) {
                return m;
            }
        }
    }

    // ---------------------------------------------------------------- data plane

    /**
     * Switches one frame sent by the guest behind {@code port}. The switch may rewrite the
     * frame in place (routing); it does not keep a reference after returning.
     */
    public synchronized void fromPort(Port port, byte[] frame, int length) {
        fromPort(port, frame, length, true);
    }

    /**
     * For backends that shape rather than police (they can hold the guest's transmit queue):
     * 0 when a frame of {@code length} bytes may be sent now — its tokens are taken and the
     * next {@link #fromShapedPort} call will not charge it again — else nanoseconds to wait.
     */
    public synchronized long shapingDelay(Port port, int length) {
        RateLimit.Limiter l = port.limiter;
        return l == null ? 0 : l.delay(length, clock.getAsLong());
    }

    /**
     * Nanoseconds the port's shaped sender was backlogged while its worker was off the CPU
     * for longer than the rate limit's bucket could bridge (0 without a limit; reset when the
     * limit changes). Credit lost then is the card's CPU's doing, not the limiter's.
     */
    public synchronized long shaperStalledNanos(String portName) {
        RateLimit.Limiter l = port(portName).limiter;
        return l == null ? 0 : l.stalledNanos();
    }

    /** {@link #fromPort} for a frame already admitted by {@link #shapingDelay}. */
    public synchronized void fromShapedPort(Port port, byte[] frame, int length) {
        fromPort(port, frame, length, false);
    }

    private void fromPort(Port port, byte[] frame, int length, boolean police) {
        PortCounters c = port.counters;
        c.rx(length);
        if (ports.get(port.name()) != port) {
            c.drop(DropReason.PORT_DOWN); // a deleted port's backend still draining
            return;
        }
        long now = clock.getAsLong();
        if (police && port.limiter != null && !port.limiter.admit(length, now)) {
            c.drop(DropReason.RATE_LIMIT);
            return;
        }
        ParsedFrame p = pf;
        DropReason r = FrameParser.parse(frame, length, p);
        if (r != null) {
            c.drop(r);
            return;
        }
        if (p.srcMac != port.mac().bits()) {
            c.drop(DropReason.SPOOFED_MAC);
            return;
        }
        if (p.isArp()) {
            arpFromPort(port, p, now);
            return;
        }
        if (p.protocol == IpProto.UDP && p.dstPort == DhcpServer.SERVER_PORT && p.srcPort == DhcpServer.CLIENT_PORT) {
            dhcpFromPort(port, p);
            return;
        }
        if (p.srcIp != port.ip().bits()) {
            c.drop(DropReason.SPOOFED_IP);
            return;
        }
        Subnet s = port.subnet();
        s.macTable.learn(p.srcMac, port, now);
        int dst = p.dstIp;
        if (dst == Ipv4Address.METADATA.bits()) {
            if (p.protocol != IpProto.TCP) {
                c.drop(DropReason.METADATA_REJECTED);
                return;
            }
            for (byte[] out : metadata.segment(port, p)) {
                deliverLocal(port, out);
            }
            return;
        }
        if (isMulticast(dst, s)) {
            c.drop(DropReason.MULTICAST);
            return;
        }
        Vpc vpc = s.vpc();
        Subnet gw = vpc.subnetWithGateway(dst);
        if (gw != null) {
            gatewayIcmp(port, gw, p);
            return;
        }
        // Egress is allowed by default; remember the flow so its replies pass.
        if (!port.conntrack.track(p.protocol, dst, p.srcPort, p.dstPort, now)) {
            c.drop(DropReason.CONNTRACK_FULL);
            return;
        }
        if (s.cidr().contains(dst) && p.dstMac != s.gatewayMac().bits()) {
            switchL2(port, s, p, frame, length, now);
            return;
        }
        if (p.dstMac != s.gatewayMac().bits()) {
            c.drop(DropReason.NO_ROUTE);
            return;
        }
        if (p.ttl <= 1) {
            c.drop(DropReason.TTL_EXCEEDED);
            return;
        }
        Subnet ts = vpc.subnetFor(dst);
        if (ts != null) {
            Port to = ts.portByIp(dst);
            if (to == null) {
                c.drop(DropReason.UNKNOWN_DESTINATION);
                return;
            }
            route(frame, p, ts.gatewayMac().bits(), to.mac().bits());
            deliver(to, p, frame, length, now);
            return;
        }
        Uplink u = vpc.uplink;
        if (u == null || vpc.cidr().contains(dst) || u.sink == null) {
            c.drop(DropReason.NO_ROUTE);
            return;
        }
        Long learned = u.learned.get(dst);
        route(frame, p, u.mac().bits(), learned != null ? learned : u.peerMac);
        if (!u.sink.transmit(frame, 0, length)) {
            u.counters.drop(DropReason.NO_RX_BUFFER);
            return;
        }
        u.counters.tx(length);
    }

    /**
     * Counts a frame from {@code port}'s guest that its backend had to drop before the switch
     * could see it (a bad virtio-net header, an unusable descriptor chain).
     */
    public synchronized void dropFromPort(Port port, int length, DropReason reason) {
        port.counters.rx(length);
        port.counters.drop(reason);
    }

    /** Switches one frame that arrived on a VPC's uplink (from the host). */
    public synchronized void fromUplink(Uplink u, byte[] frame, int length) {
        PortCounters c = u.counters;
        c.rx(length);
        Vpc vpc = u.vpc();
        if (vpc.uplink != u) {
            c.drop(DropReason.PORT_DOWN);
            return;
        }
        long now = clock.getAsLong();
        ParsedFrame p = pf;
        DropReason r = FrameParser.parse(frame, length, p);
        if (r != null) {
            c.drop(r);
            return;
        }
        if (p.isArp()) {
            if (vpc.cidr().contains(p.arpSenderIp)) {
                c.drop(DropReason.SPOOFED_IP);
                return;
            }
            learnExternal(u, p.arpSenderIp, p.arpSenderMac);
            int t = p.arpTargetIp;
            if (p.arpOp == FrameParser.ARP_REQUEST && vpc.cidr().contains(t)) {
                Subnet ts = vpc.subnetFor(t);
                if (ts != null && (ts.portByIp(t) != null || ts.gateway().bits() == t)) {
                    byte[] reply = Frames.arp(FrameParser.ARP_REPLY, u.mac(), new MacAddress(p.arpSenderMac), u.mac(),
                            new Ipv4Address(t), new MacAddress(p.arpSenderMac), new Ipv4Address(p.arpSenderIp));
                    if (u.sink != null && u.sink.transmit(reply, 0, reply.length)) {
                        u.counters.tx(reply.length);
                    }
                    return;
                }
                c.drop(DropReason.UNKNOWN_DESTINATION);
            }
            return;
        }
        if (vpc.cidr().contains(p.srcIp)) {
            c.drop(DropReason.SPOOFED_IP);
            return;
        }
        if (p.dstMac != u.mac().bits()) {
            c.drop(MacAddress.BROADCAST.bits() == p.dstMac || (p.dstMac & (1L << 40)) != 0
                    ? DropReason.MULTICAST : DropReason.NO_ROUTE);
            return;
        }
        learnExternal(u, p.srcIp, p.srcMac);
        if (p.ttl <= 1) {
            c.drop(DropReason.TTL_EXCEEDED);
            return;
        }
        Subnet ts = vpc.subnetFor(p.dstIp);
        Port to = ts == null ? null : ts.portByIp(p.dstIp);
        if (to == null) {
            c.drop(DropReason.UNKNOWN_DESTINATION);
            return;
        }
        route(frame, p, ts.gatewayMac().bits(), to.mac().bits());
        deliver(to, p, frame, length, now);
    }

    private static void learnExternal(Uplink u, int ip, long mac) {
        if ((mac & (1L << 40)) != 0 || ip == 0) {
            return;
        }
        u.peerMac = mac;
        if (u.learned.size() >= 1024 && !u.learned.containsKey(ip)) {
            u.learned.clear(); // bounded: relearned from the next frames
        }
        u.learned.put(ip, mac);
    }

    private void switchL2(Port from, Subnet s, ParsedFrame p, byte[] frame, int length, long now) {
        Port to = (p.dstMac & (1L << 40)) == 0 ? s.macTable.lookup(p.dstMac, now) : null;
        if (to != null) {
            if (to == from) {
                from.counters.drop(DropReason.NO_ROUTE);
                return;
            }
            deliver(to, p, frame, length, now);
            return;
        }
        // Unknown unicast: flood within the subnet only (IEEE 802.1D), each copy subject to
        // the receiving port's security groups.
        List<Port> all = s.ports;
        boolean any = false;
        for (int i = 0; i < all.size(); i++) {
            Port o = all.get(i);
            if (o != from && o.linkUp()) {
                deliver(o, p, frame, length, now);
                any = true;
            }
        }
        if (!any) {
            from.counters.drop(DropReason.UNKNOWN_DESTINATION);
        }
    }

    /** Delivers a frame that crossed the switch to a port, after its security groups. */
    private void deliver(Port to, ParsedFrame p, byte[] frame, int length, long now) {
        if (!to.linkUp()) {
            to.counters.drop(DropReason.PORT_DOWN);
            return;
        }
        // Seen from the receiving port: remote = source IP, local port = destination port.
        if (!to.conntrack.tracked(p.protocol, p.srcIp, p.dstPort, p.srcPort, now)) {
            if (!to.ingressAllowed(p.protocol, p.srcIp, p.dstPort)) {
                to.counters.drop(DropReason.SECURITY_GROUP);
                return;
            }
            if (!to.conntrack.track(p.protocol, p.srcIp, p.dstPort, p.srcPort, now)) {
                to.counters.drop(DropReason.CONNTRACK_FULL);
                return;
            }
        }
        if (!to.sink.transmit(frame, 0, length)) {
            to.counters.drop(DropReason.NO_RX_BUFFER);
            return;
        }
        to.counters.tx(length);
    }

    /** Delivers a frame the switch itself generated (ARP, DHCP, ICMP, metadata): no SG. */
    private static void deliverLocal(Port to, byte[] frame) {
        if (!to.linkUp()) {
            to.counters.drop(DropReason.PORT_DOWN);
            return;
        }
        if (!to.sink.transmit(frame, 0, frame.length)) {
            to.counters.drop(DropReason.NO_RX_BUFFER);
            return;
        }
        to.counters.tx(frame.length);
    }

    /** Router rewrite (RFC 1812 §5.3.1): new MACs, TTL - 1, header checksum recomputed. */
    private static void route(byte[] f, ParsedFrame p, long srcMac, long dstMac) {
        Bytes.put48(f, 0, dstMac);
        Bytes.put48(f, 6, srcMac);
        f[p.ipOffset + 8] = (byte) (p.ttl - 1);
        Frames.refreshIpChecksum(f, p.ipOffset, p.ipHeaderLength);
    }

    private static boolean isMulticast(int ip, Subnet s) {
        return (ip >>> 28) == 0xe || ip == -1 || ip == s.cidr().broadcast().bits() || ip == 0;
    }

    private void arpFromPort(Port port, ParsedFrame p, long now) {
        PortCounters c = port.counters;
        if (p.arpSenderMac != port.mac().bits()) {
            c.drop(DropReason.SPOOFED_MAC);
            return;
        }
        // Sender 0.0.0.0 is an RFC 5227 probe (duplicate address detection): allowed.
        if (p.arpSenderIp != port.ip().bits() && p.arpSenderIp != 0) {
            c.drop(DropReason.SPOOFED_IP);
            return;
        }
        Subnet s = port.subnet();
        s.macTable.learn(p.srcMac, port, now);
        if (p.arpOp != FrameParser.ARP_REQUEST) {
            return; // replies and announcements: the switch already knows every binding
        }
        int t = p.arpTargetIp;
        MacAddress answer = null;
        if (t == s.gateway().bits()) {
            answer = s.gatewayMac();
        } else if (s.cidr().contains(t)) {
            Port o = s.portByIp(t);
            if (o != null && o != port) {
                answer = o.mac();
            }
        }
        if (answer == null) {
            // Includes probes for the port's own address: silence means "not in use".
            c.drop(DropReason.UNKNOWN_DESTINATION);
            return;
        }
        byte[] reply = Frames.arp(FrameParser.ARP_REPLY, answer, port.mac(), answer, new Ipv4Address(t), port.mac(),
                new Ipv4Address(p.arpSenderIp));
        deliverLocal(port, reply);
    }

    private void dhcpFromPort(Port port, ParsedFrame p) {
        PortCounters c = port.counters;
        if (p.srcIp != 0 && p.srcIp != port.ip().bits()) {
            c.drop(DropReason.SPOOFED_IP);
            return;
        }
        DhcpMessage m = DhcpMessage.parse(p.data, p.payloadOffset(), p.payloadLength());
        if (m == null || m.chaddr() != port.mac().bits()) {
            c.drop(DropReason.BAD_DHCP);
            return;
        }
        byte[] reply = DhcpServer.reply(m, port);
        if (reply != null) {
            deliverLocal(port, reply);
        }
    }

    private void gatewayIcmp(Port port, Subnet gw, ParsedFrame p) {
        if (p.protocol != IpProto.ICMP || p.icmpType != FrameParser.ICMP_ECHO_REQUEST) {
            port.counters.drop(DropReason.UNKNOWN_DESTINATION);
            return;
        }
        int l4 = p.l4Offset;
        byte[] payload = new byte[p.l4Length - 8];
        System.arraycopy(p.data, l4 + 8, payload, 0, payload.length);
        byte[] reply = Frames.icmpEcho(port.subnet().gatewayMac(), port.mac(), gw.gateway(), port.ip(),
                FrameParser.ICMP_ECHO_REPLY, Bytes.u16(p.data, l4 + 4), Bytes.u16(p.data, l4 + 6), payload);
        deliverLocal(port, reply);
    }
}
