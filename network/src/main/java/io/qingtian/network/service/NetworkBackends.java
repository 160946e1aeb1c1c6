package io.qingtian.network.service;

import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.nio.file.Path;

/**
 * The I/O side of the network service: what connects a switch port to a vhost-user-net
 * socket and a VPC to a TAP device. Separate so the control plane is testable without
 * either, and so the card chooses the implementations.
 */
public interface NetworkBackends {
    /**
     * An export that can tell whether a front-end is connected to its socket: a VM holds its
     * NIC from the moment it connects, before its driver starts the rings (link up).
     */
    interface Export extends AutoCloseable {
        boolean connected();
    }

    /** Starts serving {@code port} as a vhost-user-net device on {@code socket}. */
    AutoCloseable exportVhostUser(VirtualSwitch sw, Port port, Path socket) throws Exception;

    /** Opens TAP {@code ifname} and attaches it as the VPC's uplink. */
    AutoCloseable attachTap(VirtualSwitch sw, String vpc, String ifname) throws Exception;

    /** Backends that refuse: for control-plane-only use and tests. */
    static NetworkBackends none() {
        return new NetworkBackends() {
            @Override
            public AutoCloseable exportVhostUser(VirtualSwitch sw, Port port, Path socket) {
                throw new UnsupportedOperationException("no vhost-user-net backend in this process");
            }

            @Override
            public AutoCloseable attachTap(VirtualSwitch sw, String vpc, String ifname) {
                throw new UnsupportedOperationException("no TAP support in this process");
            }
        };
    }
}
