package io.qingtian.network.vhostuser;

import io.qingtian.network.service.NetworkBackends;
import io.qingtian.network.uplink.TapUplink;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.nio.file.Path;

/** The real backends: vhost-user-net servers for exports, TAP devices for uplinks. */
public final class CardNetworkBackends implements NetworkBackends {
    @Override
    public AutoCloseable exportVhostUser(VirtualSwitch sw, Port port, Path socket) {
        return VhostUserNetServer.start(sw, port, socket);
    }

    @Override
    public AutoCloseable attachTap(VirtualSwitch sw, String vpc, String ifname) {
        return TapUplink.attach(sw, vpc, ifname);
    }
}
