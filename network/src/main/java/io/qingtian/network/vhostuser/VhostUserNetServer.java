package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.VirtioNetPort;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.sys.Errno;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.UnixSockets;
import io.qingtian.sys.UserError;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Serves one switch port as a vhost-user-net device on a unix socket: one front-end (QEMU,
 * DPDK virtio-user, our hypervisor) at a time; when it goes away the port's link goes down
 * and the next front-end starts from a clean state.
 */
public final class VhostUserNetServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VhostUserNetServer.class.getName());

    private final Path socketPath;
    private final VirtioNetPort device;
    private final String name;
    private final int listenFd;
    private final Thread acceptor;
    private volatile boolean closing;
    private volatile VhostUserSocket current;
    private volatile int connections;

    private VhostUserNetServer(Path socketPath, VirtioNetPort device, int listenFd) {
        this.socketPath = socketPath;
        this.device = device;
        this.name = "vhost-user-net:" + device.port().name();
        this.listenFd = listenFd;
        this.acceptor = Thread.ofPlatform().daemon().name(name).unstarted(this::acceptLoop);
    }

    /** Listens on {@code socket} for {@code port}. A stale socket is replaced; a live one is an error. */
    public static VhostUserNetServer start(VirtualSwitch sw, Port port, Path socket) {
        removeStaleSocket(socket);
        int fd = UnixSockets.listen(socket, 4);
        VhostUserNetServer s = new VhostUserNetServer(socket, new VirtioNetPort(sw, port), fd);
        s.acceptor.start();
        return s;
    }

    private static void removeStaleSocket(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try {
            int fd = UnixSockets.connect(path);
            Libc.closeQuietly(fd);
            throw new UserError("vhost-user socket " + path + " is in use by another process");
        } catch (LinuxException e) {
            if (e.errno() != Errno.ECONNREFUSED) {
                throw new UserError("cannot use " + path + " as a vhost-user socket: " + e.getMessage());
            }
        }
        try {
            Files.delete(path);
        } catch (IOException e) {
            throw new UserError("cannot remove stale socket " + path + ": " + e.getMessage());
        }
    }

    public Path socketPath() {
        return socketPath;
    }

    public VirtioNetPort device() {
        return device;
    }

    public int connections() {
        return connections;
    }

    public boolean connected() {
        return current != null;
    }

    private void acceptLoop() {
        while (!closing) {
            int fd;
            try {
                fd = UnixSockets.accept(listenFd);
            } catch (LinuxException e) {
                if (!closing) {
                    LOG.log(Level.SEVERE, name + ": accept failed; no longer serving " + socketPath, e);
                }
                return;
            }
            if (closing) {
                Libc.closeQuietly(fd);
                return;
            }
            connections++;
            VhostUserSocket s = new VhostUserSocket(fd);
            current = s;
            try {
                new NetConnection(name, device, s).serve();
            } catch (Throwable t) {
                LOG.log(Level.SEVERE, name + ": connection handler failed", t);
                s.close();
            } finally {
                current = null;
                device.setRxRing(null);
            }
        }
    }

    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        UnixSockets.shutdown(listenFd);
        VhostUserSocket s = current;
        if (s != null) {
            s.shutdown();
        }
        try {
            acceptor.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Libc.closeQuietly(listenFd);
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.warning(name + ": cannot remove " + socketPath + ": " + e.getMessage());
        }
    }
}
