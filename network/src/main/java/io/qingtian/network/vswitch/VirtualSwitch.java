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
import io.qingtian.network.vswitch.Forwarding.PortView;
import io.qingtian.network.vswitch.Forwarding.SubnetView;
import io.qingtian.network.vswitch.Forwarding.VpcView;
import java.util.ArrayList;
import java.util.BitSet;
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
 *
 * <p>Concurrency. The control plane (every public method that changes configuration) runs
 * under this object's lock and ends by publishing a new immutable {@link Forwarding} snapshot
 * with one volatile write. The data path never takes that lock: a frame reads the snapshot
 * once and decides with it, then takes the sending port's lock for the sender's state
 * (counters, rate limit, egress connection tracking) and, after releasing it, the receiving
 * port's lock for the receiver's (ingress connection tracking, counters, the sink). Two port
 * locks are never held together, so frames in opposite directions cannot deadlock, and
 * workers of different ports forward in parallel. A rule change is in effect for every frame
 * that starts after it returned. A new flow is only ever tracked under the snapshot that is
 * current while the tracking port's lock is held: a frame whose snapshot was replaced while
 * it was in flight is dropped ({@link DropReason#RECONFIGURED}) instead, so no flow is
 * admitted by a rule already removed, and no flow with a deleted NIC's address is recorded
 * after the deletion swept them (a NIC that later gets the address inherits nothing).
 * Lock order: this switch, then one port or uplink, then the metadata responder.
 *
 * <p>A transmit worker hands frames over in bursts ({@link #fromPortBurst}, {@link FrameBurst}):
 * one snapshot read and one hold of the sender's lock for the whole burst, one hold of a
 * receiver's lock per run of frames to it, each frame filtered exactly as on its own.
 *
 * <p>Packet path for a frame from a port: rate limit → parse/validate → anti-spoofing (MAC,
 * then IP) → ARP responder / DHCP / metadata / gateway ICMP → egress tracking → L2 within
 * the subnet (learned MACs, unknown unicast flooded in the subnet) or L3 via the
 * gateway (MAC rewrite, TTL decrement) to another subnet of the same VPC or the VPC's
 * uplink → destination security groups with connection tracking → the port's sink.
 */
public final class VirtualSwitch {
    /** IEEE 802.1D default aging time of learned MACs. */
    static final long MAC_AGING_NANOS = 300_000_000_000L;
    private static final long MULTICAST_BIT = 1L << 40;

    private final LongSupplier clock;
    private final RandomGenerator random;
    private final Map<String, Vpc> vpcs = new LinkedHashMap<>();
    private final Map<String, Subnet> subnets = new LinkedHashMap<>();
    private final Map<String, SecurityGroup> groups = new LinkedHashMap<>();
    private final Map<String, Port> ports = new LinkedHashMap<>();
    private final Map<String, Uplink> uplinks = new LinkedHashMap<>();
    private final BitSet slots = new BitSet();
    private final MetadataResponder metadata = new MetadataResponder();
    private final int maxFlows;
    /** What the data path decides with; replaced (never changed) by the control plane. */
    private volatile Forwarding forwarding = Forwarding.EMPTY;

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

    /** Builds and publishes the snapshot of the current configuration (call with this lock held). */
    private void publish() {
        forwarding = Forwarding.build(List.copyOf(vpcs.values()), slots.length());
    }

    public synchronized Vpc createVpc(String name, Cidr cidr, String tenant) {
        requireName(name, "VPC");
        if (vpcs.containsKey(name)) {
            throw new NetworkException("VPC " + name + " already exists");
        }
        Vpc v = new Vpc(name, cidr, tenant == null ? "default" : tenant);
        vpcs.put(name, v);
        publish();
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
        publish();
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

    /**
     * Adds an ingress allow rule; returns false if the group already had it. Every frame that
     * starts after this returned is filtered with the rule.
     */
    public synchronized boolean addRule(String group, SecurityRule rule) {
        boolean added = securityGroup(group).add(rule);
        publish();
        return added;
    }

    /** Removes a rule: frames of new flows that start after this returned are filtered without it. */
    public synchronized void removeRule(String group, SecurityRule rule) {
        if (!securityGroup(group).remove(rule)) {
            throw new NetworkException("security group " + group + " has no rule " + rule);
        }
        publish();
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
        int slot = slots.nextClearBit(0);
        Port p = new Port(name, s, mac != null ? mac : freshMac(), addr,
                instanceId == null ? name : instanceId, maxFlows, slot);
        slots.set(slot);
        p.groups = List.copyOf(sgs);
        s.ports.add(p);
        s.portsByIp.put(addr.bits(), p);
        ports.put(name, p);
        publish();
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
        ports.remove(name);
        slots.clear(p.slot);
        synchronized (p) {
            p.deleted = true;
            p.sink = null;
            p.linkUp = false;
            p.forgetHeard();
        }
        publish();
        synchronized (metadata) {
            metadata.forget(p);
        }
        // After the publish: a frame that tracks a flow from now on sees the new snapshot
        // under the port's lock (and drops instead), or tracked it before this sweep.
        for (Subnet o : s.vpc().subnets) {
            for (Port q : o.ports) {
                synchronized (q) {
                    q.conntrack.forgetRemote(p.ip().bits());
                }
            }
        }
    }

    public synchronized void setSecurityGroups(String portName, List<String> groupNames) {
        Port p = port(portName);
        List<SecurityGroup> sgs = new ArrayList<>();
        for (String g : groupNames) {
            sgs.add(securityGroup(g));
        }
        p.groups = List.copyOf(sgs);
        publish();
    }

    public synchronized void setRateLimit(String portName, RateLimit limit) {
        Port p = port(portName);
        synchronized (p) {
            p.rateLimit = limit;
            p.limiter = limit.unlimited() ? null : new RateLimit.Limiter(limit, clock.getAsLong());
        }
    }

    /**
     * Connects a backend to a port and brings its link up. Takes only the port's lock (not the
     * switch's), so a backend may call it holding the port's lock.
     */
    public void attach(String portName, FrameSink sink) {
        Port p = livePort(portName);
        synchronized (p) {
            if (p.deleted) {
                throw new NetworkException("no NIC " + portName);
            }
            p.sink = sink;
            p.linkUp = true;
        }
    }

    /** Disconnects the port's backend; its link goes down. Takes only the port's lock. */
    public void detach(String portName) {
        Port p = livePort(portName);
        synchronized (p) {
            p.sink = null;
            p.linkUp = false;
        }
    }

    public void setLink(String portName, boolean up) {
        Port p = livePort(portName);
        synchronized (p) {
            p.linkUp = up;
        }
    }

    /** A port of the current snapshot by name, without the switch's lock. */
    private Port livePort(String name) {
        Port p = forwarding.port(name);
        if (p == null) {
            throw new NetworkException("no NIC " + name);
        }
        return p;
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
        publish();
        return u;
    }

    public synchronized void detachUplink(String vpcName) {
        Vpc v = vpc(vpcName);
        if (v.uplink != null) {
            Uplink u = v.uplink;
            uplinks.remove(u.name());
            v.uplink = null;
            publish();
            synchronized (u) {
                u.sink = null;
            }
        }
    }

    public PortStats stats(String portName) {
        Port p = port(portName);
        synchronized (p) {
            return p.counters.snapshot(portName);
        }
    }

    public PortStats uplinkStats(String vpcName) {
        Uplink u;
        synchronized (this) {
            u = vpc(vpcName).uplink;
        }
        if (u == null) {
            throw new NetworkException("VPC " + vpcName + " has no uplink");
        }
        synchronized (u) {
            return u.counters.snapshot(u.name());
        }
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
    public int trackedFlows(String portName) {
        Port p = port(portName);
        synchronized (p) {
            return p.conntrack.size();
        }
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
    public void fromPort(Port port, byte[] frame, int length) {
        fromPort(port, frame, length, true, clock.getAsLong());
    }

    /**
     * {@link #fromPort(Port, byte[], int)} at a time the caller read from {@link #now()}: a
     * backend switching a burst of frames reads the clock once per burst (a vDSO
     * {@code clock_gettime} is a noticeable share of a frame's cost). The time only ages
     * conntrack entries (60 s and more) and learned MACs (300 s), so a burst's
     * microseconds are of no consequence; rate limits read the clock themselves.
     */
    public void fromPort(Port port, byte[] frame, int length, long now) {
        fromPort(port, frame, length, true, now);
    }

    /** The switch's clock (nanoseconds), for {@link #fromPort(Port, byte[], int, long)}. */
    public long now() {
        return clock.getAsLong();
    }

    /**
     * For backends that shape rather than police (they can hold the guest's transmit queue):
     * 0 when a frame of {@code length} bytes may be sent now — its tokens are taken and the
     * next {@link #fromShapedPort} call will not charge it again — else nanoseconds to wait.
     */
    public long shapingDelay(Port port, int length) {
        synchronized (port) {
            RateLimit.Limiter l = port.limiter;
            return l == null ? 0 : l.delay(length, clock.getAsLong());
        }
    }

    /**
     * Nanoseconds the port's shaped sender was backlogged while its worker was off the CPU
     * for longer than the rate limit's bucket could bridge (0 without a limit; reset when the
     * limit changes). Credit lost then is the card's CPU's doing, not the limiter's.
     */
    public long shaperStalledNanos(String portName) {
        Port p = port(portName);
        synchronized (p) {
            RateLimit.Limiter l = p.limiter;
            return l == null ? 0 : l.stalledNanos();
        }
    }

    /** {@link #fromPort} for a frame already admitted by {@link #shapingDelay}. */
    public void fromShapedPort(Port port, byte[] frame, int length) {
        fromPort(port, frame, length, false, clock.getAsLong());
    }

    /** {@link #fromShapedPort(Port, byte[], int)} at a burst's time (see {@link #fromPort(Port, byte[], int, long)}). */
    public void fromShapedPort(Port port, byte[] frame, int length, long now) {
        fromPort(port, frame, length, false, now);
    }

    /**
     * Switches a burst of frames sent by the guest behind {@code port} (see {@link FrameBurst}),
     * at one reading of the switch's clock, and empties it. Each frame is filtered exactly as by
     * {@link #fromPort}; the burst is decided with the snapshot current when this is called.
     * {@code police}: rate limits drop frames over the limit (false: a shaping backend already
     * took their tokens, see {@link #shapingDelay}).
     */
    public void fromPortBurst(Port port, FrameBurst burst, boolean police, long now) {
        Forwarding fw = forwarding; // the one snapshot this burst is decided with
        int n = burst.count;
        synchronized (port) {
            PortView self = fw.view(port);
            for (int k = 0; k < n; k++) {
                burst.action[k] = egress(fw, self, port, burst.frame(k), burst.lengths[k], police, now, burst, k);
            }
        }
        int k = 0;
        while (k < n) {
            int action = burst.action[k];
            if (action == FrameBurst.UNICAST) {
                // A run of frames to the same receiver: one hold of its lock.
                PortView to = burst.to[k];
                int end = k + 1;
                while (end < n && burst.action[end] == FrameBurst.UNICAST && burst.to[end] == to) {
                    end++;
                }
                synchronized (to.port) {
                    for (int j = k; j < end; j++) {
                        ingress(fw, to, burst.proto[j], burst.srcIp[j], burst.srcPort[j], burst.dstPort[j],
                                burst.frame(j), burst.lengths[j], now);
                    }
                }
                k = end;
                continue;
            }
            if (action == FrameBurst.FLOOD) {
                // A run of unknown unicast frames into the same subnet: one hold of each receiver's lock.
                SubnetView s = burst.flood[k];
                int end = k + 1;
                while (end < n && burst.action[end] == FrameBurst.FLOOD && burst.flood[end] == s) {
                    end++;
                }
                boolean any = false;
                for (PortView o : s.ports) {
                    if (o.port != port && o.port.linkUp()) {
                        synchronized (o.port) {
                            for (int j = k; j < end; j++) {
                                ingress(fw, o, burst.proto[j], burst.srcIp[j], burst.srcPort[j], burst.dstPort[j],
                                        burst.frame(j), burst.lengths[j], now);
                            }
                        }
                        any = true;
                    }
                }
                if (!any) {
                    synchronized (port) {
                        for (int j = k; j < end; j++) {
                            port.counters.drop(DropReason.UNKNOWN_DESTINATION);
                        }
                    }
                }
                k = end;
                continue;
            }
            if (action == FrameBurst.UPLINK) {
                toUplink(burst.uplink[k], burst.frame(k), burst.lengths[k]);
            }
            k++;
        }
        burst.count = 0;
    }

    /**
     * One frame: the sender's part under its port's lock (everything up to the choice of the
     * receiver and the routing rewrite), then the receiver's part under the receiver's lock.
     */
    private void fromPort(Port port, byte[] frame, int length, boolean police, long now) {
        Forwarding fw = forwarding; // the one snapshot this frame is decided with
        int action;
        PortView to;
        SubnetView flood;
        Uplink up;
        int proto;
        int srcIp;
        int srcPort;
        int dstPort;
        synchronized (port) {
            FrameBurst d = port.decision; // guarded by the port's lock: copied out before it is released
            action = egress(fw, fw.view(port), port, frame, length, police, now, d, 0);
            to = d.to[0];
            flood = d.flood[0];
            up = d.uplink[0];
            proto = d.proto[0];
            srcIp = d.srcIp[0];
            srcPort = d.srcPort[0];
            dstPort = d.dstPort[0];
        }
        switch (action) {
            case FrameBurst.UNICAST -> {
                synchronized (to.port) {
                    ingress(fw, to, proto, srcIp, srcPort, dstPort, frame, length, now);
                }
            }
            case FrameBurst.FLOOD -> flood(fw, port, flood, proto, srcIp, srcPort, dstPort, frame, length, now);
            case FrameBurst.UPLINK -> toUplink(up, frame, length);
            default -> { }
        }
    }

    /**
     * The sender's part of one frame, with the sending port's lock held: counters, rate limit,
     * validation, anti-spoofing, the switch's own services (answered at once), egress tracking,
     * the choice of the receiver and the routing rewrite. Returns what is left to do once the
     * lock is released ({@link FrameBurst#DONE} when the frame was dropped or answered), with
     * the receiver and the frame's flow in slot {@code k} of {@code d}.
     */
    private int egress(Forwarding fw, PortView self, Port port, byte[] frame, int length, boolean police, long now,
                       FrameBurst d, int k) {
        PortCounters c = port.counters;
        c.rx(length);
        if (self == null || port.deleted) {
            c.drop(DropReason.PORT_DOWN); // a deleted port's backend still draining
            return FrameBurst.DONE;
        }
        RateLimit.Limiter limiter = port.limiter;
        if (police && limiter != null && !limiter.admit(length, clock.getAsLong())) {
            c.drop(DropReason.RATE_LIMIT);
            return FrameBurst.DONE;
        }
        ParsedFrame p = port.parsed;
        DropReason r = FrameParser.parse(frame, length, p);
        if (r != null) {
            c.drop(r);
            return FrameBurst.DONE;
        }
        if (p.srcMac != self.mac) {
            c.drop(DropReason.SPOOFED_MAC);
            return FrameBurst.DONE;
        }
        if (p.isArp()) {
            arpFromPort(self, p, now);
            return FrameBurst.DONE;
        }
        if (p.protocol == IpProto.UDP && p.dstPort == DhcpServer.SERVER_PORT && p.srcPort == DhcpServer.CLIENT_PORT) {
            dhcpFromPort(port, p);
            return FrameBurst.DONE;
        }
        if (p.srcIp != self.ip) {
            c.drop(DropReason.SPOOFED_IP);
            return FrameBurst.DONE;
        }
        port.heard(now);
        SubnetView s = self.subnet;
        int dst = p.dstIp;
        if (dst == Ipv4Address.METADATA.bits()) {
            if (p.protocol != IpProto.TCP) {
                c.drop(DropReason.METADATA_REJECTED);
                return FrameBurst.DONE;
            }
            List<byte[]> replies;
            synchronized (metadata) {
                replies = metadata.segment(port, p);
            }
            for (byte[] out : replies) {
                deliverLocal(port, out);
            }
            return FrameBurst.DONE;
        }
        if (isMulticast(dst, s)) {
            c.drop(DropReason.MULTICAST);
            return FrameBurst.DONE;
        }
        VpcView vpc = s.vpc;
        SubnetView gw = vpc.subnetWithGateway(dst);
        if (gw != null) {
            gatewayIcmp(port, gw, p);
            return FrameBurst.DONE;
        }
        // Egress is allowed by default; remember the flow so its replies pass.
        if (!port.conntrack.tracked(p.protocol, dst, p.srcPort, p.dstPort, now)) {
            if (forwarding != fw) {
                c.drop(DropReason.RECONFIGURED);
                return FrameBurst.DONE;
            }
            if (!port.conntrack.track(p.protocol, dst, p.srcPort, p.dstPort, now)) {
                c.drop(DropReason.CONNTRACK_FULL);
                return FrameBurst.DONE;
            }
        }
        int action;
        if (s.contains(dst) && p.dstMac != s.gatewayMac) {
            PortView to = null;
            if ((p.dstMac & MULTICAST_BIT) == 0) {
                to = s.byMac(p.dstMac);
                if (to != null && !to.port.heardWithin(now, MAC_AGING_NANOS)) {
                    to = null; // not learned (yet, or aged out): flooded like any unknown unicast
                }
            }
            if (to == self) {
                c.drop(DropReason.NO_ROUTE);
                return FrameBurst.DONE;
            }
            d.to[k] = to;
            d.flood[k] = to == null ? s : null;
            action = to == null ? FrameBurst.FLOOD : FrameBurst.UNICAST;
        } else {
            if (p.dstMac != s.gatewayMac) {
                c.drop(DropReason.NO_ROUTE);
                return FrameBurst.DONE;
            }
            if (p.ttl <= 1) {
                c.drop(DropReason.TTL_EXCEEDED);
                return FrameBurst.DONE;
            }
            SubnetView ts = vpc.subnetFor(dst);
            if (ts != null) {
                PortView to = ts.byIp(dst);
                if (to == null) {
                    c.drop(DropReason.UNKNOWN_DESTINATION);
                    return FrameBurst.DONE;
                }
                route(frame, p, ts.gatewayMac, to.mac);
                d.to[k] = to;
                action = FrameBurst.UNICAST;
            } else {
                Uplink up = vpc.uplink;
                if (up == null || vpc.contains(dst)) {
                    c.drop(DropReason.NO_ROUTE);
                    return FrameBurst.DONE;
                }
                long nextHop;
                synchronized (up) { // a leaf under the port's lock: the uplink's never nests a port's
                    if (up.sink == null) {
                        c.drop(DropReason.NO_ROUTE);
                        return FrameBurst.DONE;
                    }
                    nextHop = up.nextHop(dst);
                }
                route(frame, p, up.mac().bits(), nextHop);
                d.uplink[k] = up;
                action = FrameBurst.UPLINK;
            }
        }
        d.proto[k] = p.protocol;
        d.srcIp[k] = p.srcIp;
        d.srcPort[k] = p.srcPort;
        d.dstPort[k] = p.dstPort;
        return action;
    }

    /** Unknown unicast: flooded within the subnet only (IEEE 802.1D), each copy subject to the receiver's security groups. */
    private void flood(Forwarding fw, Port from, SubnetView s, int proto, int srcIp, int srcPort, int dstPort,
                       byte[] frame, int length, long now) {
        boolean any = false;
        for (PortView o : s.ports) {
            if (o.port != from && o.port.linkUp()) {
                synchronized (o.port) {
                    ingress(fw, o, proto, srcIp, srcPort, dstPort, frame, length, now);
                }
                any = true;
            }
        }
        if (!any) {
            synchronized (from) {
                from.counters.drop(DropReason.UNKNOWN_DESTINATION);
            }
        }
    }

    private static void toUplink(Uplink u, byte[] frame, int length) {
        synchronized (u) {
            if (u.sink == null) {
                u.counters.drop(DropReason.NO_ROUTE);
                return;
            }
            if (!u.sink.transmit(frame, 0, length)) {
                u.counters.drop(DropReason.NO_RX_BUFFER);
                return;
            }
            u.counters.tx(length);
        }
    }

    /**
     * Counts a frame from {@code port}'s guest that its backend had to drop before the switch
     * could see it (a bad virtio-net header, an unusable descriptor chain).
     */
    public void dropFromPort(Port port, int length, DropReason reason) {
        synchronized (port) {
            port.counters.rx(length);
            port.counters.drop(reason);
        }
    }

    /** Switches one frame that arrived on a VPC's uplink (from the host). */
    public void fromUplink(Uplink u, byte[] frame, int length) {
        Forwarding fw = forwarding;
        PortView to;
        int proto;
        int srcIp;
        int srcPort;
        int dstPort;
        long now = clock.getAsLong();
        synchronized (u) {
            PortCounters c = u.counters;
            c.rx(length);
            VpcView vpc = fw.vpc(u.vpc());
            if (vpc == null || vpc.uplink != u) {
                c.drop(DropReason.PORT_DOWN);
                return;
            }
            ParsedFrame p = u.parsed;
            DropReason r = FrameParser.parse(frame, length, p);
            if (r != null) {
                c.drop(r);
                return;
            }
            if (p.isArp()) {
                if (vpc.contains(p.arpSenderIp)) {
                    c.drop(DropReason.SPOOFED_IP);
                    return;
                }
                learnExternal(u, p.arpSenderIp, p.arpSenderMac);
                int t = p.arpTargetIp;
                if (p.arpOp == FrameParser.ARP_REQUEST && vpc.contains(t)) {
                    SubnetView ts = vpc.subnetFor(t);
                    if (ts != null && (ts.byIp(t) != null || ts.gateway == t)) {
                        byte[] reply = Frames.arp(FrameParser.ARP_REPLY, u.mac(), new MacAddress(p.arpSenderMac), u.mac(),
                                new Ipv4Address(t), new MacAddress(p.arpSenderMac), new Ipv4Address(p.arpSenderIp));
                        if (u.sink != null && u.sink.transmit(reply, 0, reply.length)) {
                            c.tx(reply.length);
                        }
                        return;
                    }
                    c.drop(DropReason.UNKNOWN_DESTINATION);
                }
                return;
            }
            if (vpc.contains(p.srcIp)) {
                c.drop(DropReason.SPOOFED_IP);
                return;
            }
            if (p.dstMac != u.mac().bits()) {
                c.drop(MacAddress.BROADCAST.bits() == p.dstMac || (p.dstMac & MULTICAST_BIT) != 0
                        ? DropReason.MULTICAST : DropReason.NO_ROUTE);
                return;
            }
            learnExternal(u, p.srcIp, p.srcMac);
            if (p.ttl <= 1) {
                c.drop(DropReason.TTL_EXCEEDED);
                return;
            }
            SubnetView ts = vpc.subnetFor(p.dstIp);
            to = ts == null ? null : ts.byIp(p.dstIp);
            if (to == null) {
                c.drop(DropReason.UNKNOWN_DESTINATION);
                return;
            }
            route(frame, p, ts.gatewayMac, to.mac);
            proto = p.protocol;
            srcIp = p.srcIp;
            srcPort = p.srcPort;
            dstPort = p.dstPort;
        }
        synchronized (to.port) {
            ingress(fw, to, proto, srcIp, srcPort, dstPort, frame, length, now);
        }
    }

    private static void learnExternal(Uplink u, int ip, long mac) {
        if ((mac & MULTICAST_BIT) != 0 || ip == 0) {
            return;
        }
        u.peerMac = mac;
        if (u.learned.size() >= 1024 && !u.learned.containsKey(ip)) {
            u.learned.clear(); // bounded: relearned from the next frames
        }
        u.learned.put(ip, mac);
    }

    /**
     * Delivers a frame that crossed the switch to a port, after its security groups. Called
     * with the receiving port's lock held (and no other port's).
     */
    private void ingress(Forwarding fw, PortView view, int proto, int srcIp, int srcPort, int dstPort,
                         byte[] frame, int length, long now) {
        Port to = view.port;
        PortCounters c = to.counters;
        FrameSink sink = to.sink;
        if (!to.linkUp || sink == null || to.deleted) {
            c.drop(DropReason.PORT_DOWN);
            return;
        }
        // Seen from the receiving port: remote = source IP, local port = destination port.
        if (!to.conntrack.tracked(proto, srcIp, dstPort, srcPort, now)) {
            if (!view.allows(proto, srcIp, dstPort)) {
                c.drop(DropReason.SECURITY_GROUP);
                return;
            }
            if (forwarding != fw) {
                c.drop(DropReason.RECONFIGURED);
                return;
            }
            if (!to.conntrack.track(proto, srcIp, dstPort, srcPort, now)) {
                c.drop(DropReason.CONNTRACK_FULL);
                return;
            }
        }
        if (!sink.transmit(frame, 0, length)) {
            c.drop(DropReason.NO_RX_BUFFER);
            return;
        }
        c.tx(length);
    }

    /** Delivers a frame the switch itself generated (ARP, DHCP, ICMP, metadata): no SG. */
    private static void deliverLocal(Port to, byte[] frame) {
        synchronized (to) {
            FrameSink sink = to.sink;
            if (!to.linkUp || sink == null || to.deleted) {
                to.counters.drop(DropReason.PORT_DOWN);
                return;
            }
            if (!sink.transmit(frame, 0, frame.length)) {
                to.counters.drop(DropReason.NO_RX_BUFFER);
                return;
            }
            to.counters.tx(frame.length);
        }
    }

    /** Router rewrite (RFC 1812 §5.3.1): new MACs, TTL - 1, header checksum recomputed. */
    private static void route(byte[] f, ParsedFrame p, long srcMac, long dstMac) {
        Bytes.put48(f, 0, dstMac);
        Bytes.put48(f, 6, srcMac);
        f[p.ipOffset + 8] = (byte) (p.ttl - 1);
        Frames.refreshIpChecksum(f, p.ipOffset, p.ipHeaderLength);
    }

    private static boolean isMulticast(int ip, SubnetView s) {
        return (ip >>> 28) == 0xe || ip == -1 || ip == s.broadcast || ip == 0;
    }

    /** ARP from a port (its lock held): answered by the switch for the gateway and the subnet's ports. */
    private void arpFromPort(PortView self, ParsedFrame p, long now) {
        Port port = self.port;
        PortCounters c = port.counters;
        if (p.arpSenderMac != self.mac) {
            c.drop(DropReason.SPOOFED_MAC);
            return;
        }
        // Sender 0.0.0.0 is an RFC 5227 probe (duplicate address detection): allowed.
        if (p.arpSenderIp != self.ip && p.arpSenderIp != 0) {
            c.drop(DropReason.SPOOFED_IP);
            return;
        }
        port.heard(now);
        if (p.arpOp != FrameParser.ARP_REQUEST) {
            return; // replies and announcements: the switch already knows every binding
        }
        SubnetView s = self.subnet;
        int t = p.arpTargetIp;
        long answer = 0;
        if (t == s.gateway) {
            answer = s.gatewayMac;
        } else if (s.contains(t)) {
            PortView o = s.byIp(t);
            if (o != null && o != self) {
                answer = o.mac;
            }
        }
        if (answer == 0) {
            // Includes probes for the port's own address: silence means "not in use".
            c.drop(DropReason.UNKNOWN_DESTINATION);
            return;
        }
        MacAddress a = new MacAddress(answer);
        byte[] reply = Frames.arp(FrameParser.ARP_REPLY, a, port.mac(), a, new Ipv4Address(t), port.mac(),
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

    private void gatewayIcmp(Port port, SubnetView gw, ParsedFrame p) {
        if (p.protocol != IpProto.ICMP || p.icmpType != FrameParser.ICMP_ECHO_REQUEST) {
            port.counters.drop(DropReason.UNKNOWN_DESTINATION);
            return;
        }
        int l4 = p.l4Offset;
        byte[] payload = new byte[p.l4Length - 8];
        System.arraycopy(p.data, l4 + 8, payload, 0, payload.length);
        byte[] reply = Frames.icmpEcho(port.subnet().gatewayMac(), port.mac(), gw.subnet.gateway(), port.ip(),
                FrameParser.ICMP_ECHO_REPLY, Bytes.u16(p.data, l4 + 4), Bytes.u16(p.data, l4 + 6), payload);
        deliverLocal(port, reply);
    }
}
