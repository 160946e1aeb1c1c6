package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A subnet of a VPC: one L2 broadcast domain with a CIDR. Its gateway is the first host
 * address, answered by the switch's ARP responder with the subnet's router MAC; the switch
 * routes between subnets of the same VPC through it.
 */
public final class Subnet {
    private final String name;
    private final Vpc vpc;
    private final Cidr cidr;
    private final Ipv4Address gateway;
    private final MacAddress gatewayMac;
    /** Control plane only (the switch's lock); the data path uses the {@link Forwarding} snapshot. */
    final List<Port> ports = new ArrayList<>();
    final Map<Integer, Port> portsByIp = new HashMap<>();
    Ipv4Address dns;
    int leaseSeconds = 86400;

    Subnet(String name, Vpc vpc, Cidr cidr, MacAddress gatewayMac) {
        this.name = name;
        this.vpc = vpc;
        this.cidr = cidr;
        this.gateway = cidr.firstHost();
        this.gatewayMac = gatewayMac;
    }

    public String name() {
        return name;
    }

    public Vpc vpc() {
        return vpc;
    }

    public Cidr cidr() {
        return cidr;
    }

    public Ipv4Address gateway() {
        return gateway;
    }

    public MacAddress gatewayMac() {
        return gatewayMac;
    }

    public Ipv4Address dns() {
        return dns;
    }

    public int leaseSeconds() {
        return leaseSeconds;
    }

    Port portByIp(int ip) {
        return portsByIp.get(ip);
    }
}
