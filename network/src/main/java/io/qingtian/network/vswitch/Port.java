package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.util.List;

/**
 * A vNIC's port on the switch, bound to one subnet with the IP and MAC the control plane
 * assigned. The guest may only ever send as this MAC/IP (anti-spoofing).
 *
 * <p>Where the port is and what it admits is in the switch's {@link Forwarding} snapshot; the
 * port object holds what changes per frame — counters, connection tracking, the rate-limit
 * buckets, the backend's sink and link — guarded by the port's own lock (this object), which
 * the switch takes for the sending port's part of a frame and, separately, never nested, for
 * the receiving port's part. Backends that serialize their own state with the switch's (a
 * {@link FrameSink} is called with the receiving port's lock held) synchronize on the port too.
 */
public final class Port {
    /** Not heard yet (MAC learning). */
    private static final long NEVER = Long.MIN_VALUE;
    /** A port heard again this soon after the last time is not written again (the line stays shared). */
    private static final long HEARD_REFRESH_NANOS = 1_000_000_000L;

    private final String name;
    private final Subnet subnet;
    private final MacAddress mac;
    private final Ipv4Address ip;
    private final String instanceId;
    /** Index in the snapshot's port table; reused after a deletion. */
    final int slot;
    /** Control plane only (the switch's lock); the data path reads the compiled rules of the snapshot. */
    volatile List<SecurityGroup> groups = List.of();
    final PortCounters counters = new PortCounters();
    final ConnTrack conntrack;
    /** The sending side's parse result, used under this port's lock. */
    final ParsedFrame parsed = new ParsedFrame();
    /** The switch's decision for a single frame from this port, used under this port's lock. */
    final FrameBurst decision = new FrameBurst(1, false);
    volatile RateLimit rateLimit = RateLimit.NONE;
    RateLimit.Limiter limiter;
    volatile FrameSink sink;
    volatile boolean linkUp;
    /** Removed from the switch ({@link VirtualSwitch#deletePort}): its frames are dropped. */
    volatile boolean deleted;
    /** When the switch last saw a frame from this port's MAC (switch clock; {@link #NEVER}). */
    private volatile long heard = NEVER;

    Port(String name, Subnet subnet, MacAddress mac, Ipv4Address ip, String instanceId, int maxFlows, int slot) {
        this.name = name;
        this.subnet = subnet;
        this.mac = mac;
        this.ip = ip;
        this.instanceId = instanceId;
        this.conntrack = new ConnTrack(maxFlows);
        this.slot = slot;
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
        return linkUp && sink != null && !deleted;
    }

    /**
     * MAC learning (IEEE 802.1D): the port's MAC was seen as a source at {@code now}. Written
     * at most once per {@link #HEARD_REFRESH_NANOS}, so a busy sender does not keep the field's
     * cache line moving to the cores that look it up.
     */
    void heard(long now) {
        long h = heard;
        if (h == NEVER || now - h >= HEARD_REFRESH_NANOS || now - h < 0) {
            heard = now;
        }
    }

    /** Whether the port's MAC is learned: heard within the aging time. */
    boolean heardWithin(long now, long agingNanos) {
        long h = heard;
        return h != NEVER && now - h < agingNanos;
    }

    /** Forgets the learned MAC (the port was deleted). */
    void forgetHeard() {
        heard = NEVER;
    }
}
