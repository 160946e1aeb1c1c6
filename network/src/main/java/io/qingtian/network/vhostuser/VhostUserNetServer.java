package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.VirtioNetPort;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.vhostuser.backend.VhostUserBackend;
import java.nio.file.Path;

/**
 * Serves one switch port as a vhost-user-net device on a unix socket, on the vhost-user
 * module's generic back-end: one front-end (QEMU, DPDK virtio-user, our hypervisor) at a
 * time; when it goes away the port's link goes down and the next front-end starts from a
 * clean state.
 */
public final class VhostUserNetServer implements AutoCloseable {
    private final VirtioNetPort device;
    private final VhostUserBackend backend;

    private VhostUserNetServer(VirtioNetPort device, VhostUserBackend backend) {
        this.device = device;
        this.backend = backend;
    }

    /** Listens on {@code socket} for {@code port}. A stale socket is replaced; a live one is an error. */
    public static VhostUserNetServer start(VirtualSwitch sw, Port port, Path socket) {
        VirtioNetPort device = new VirtioNetPort(sw, port);
        return new VhostUserNetServer(device,
                VhostUserBackend.start(socket, new NetDevice(device), "vhost-user-net:" + port.name()));
    }

    public Path socketPath() {
        return backend.socketPath();
    }

    public VirtioNetPort device() {
        return device;
    }

    public int connections() {
        return backend.connections();
    }

    public boolean connected() {
        return backend.connected();
    }

    /** Stops serving: the port's link goes down, the socket file is removed. */
    @Override
    public void close() {
        backend.close();
    }
}
