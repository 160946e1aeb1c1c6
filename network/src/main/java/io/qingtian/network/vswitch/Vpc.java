package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Cidr;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtual private cloud: one tenant's isolated L2/L3 domain. Every lookup the switch does
 * for a frame starts from the sending port's subnet and never leaves its VPC, so two VPCs
 * with identical CIDRs, IPs and even MACs cannot see each other — isolation is structural,
 * not a filter that could be misconfigured. The data path sees it through the switch's
 * {@link Forwarding} snapshot; these fields are the control plane's (the switch's lock).
 */
public final class Vpc {
    private final String name;
    private final Cidr cidr;
    private final String tenant;
    final List<Subnet> subnets = new ArrayList<>();
    Uplink uplink;

    Vpc(String name, Cidr cidr, String tenant) {
        this.name = name;
        this.cidr = cidr;
        this.tenant = tenant;
    }

    public String name() {
        return name;
    }

    public Cidr cidr() {
        return cidr;
    }

    public String tenant() {
        return tenant;
    }

    public List<Subnet> subnets() {
        return List.copyOf(subnets);
    }

    public Uplink uplink() {
        return uplink;
    }
}
