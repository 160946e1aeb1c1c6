package io.qingtian.vhostuser.backend;

import io.qingtian.sys.Errno;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.UnixSockets;
import io.qingtian.sys.UserError;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A vhost-user back-end listening on a unix socket for one device: it serves one front-end
 * connection at a time and, when that front-end goes away, waits for the next one, which
 * starts from a clean state. Other devices (other instances) are unaffected by anything
 * one front-end does.
 */
public final class VhostUserBackend implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VhostUserBackend.class.getName());

    private final Path socketPath;
    private final VhostUserDevice device;
    private final String name;
    private final int listenFd;
    private final Thread acceptor;
    private volatile boolean closing;
    private volatile VhostUserSocket current;
    private volatile int connections;

    private VhostUserBackend(Path socketPath, VhostUserDevice device, String name, int listenFd) {
        this.socketPath = socketPath;
        this.device = device;
        this.name = name;
        this.listenFd = listenFd;
        this.acceptor = Thread.ofPlatform().daemon().name(name + "-vhost-user").unstarted(this::acceptLoop);
    }

    /**
     * Listens on {@code socketPath} and serves {@code device}. A stale socket file (nobody
     * listening) is replaced; a live one is a {@link UserError}.
     */
    public static VhostUserBackend start(Path socketPath, VhostUserDevice device, String name) {
        removeStaleSocket(socketPath);
        int fd = UnixSockets.listen(socketPath, 4);
        VhostUserBackend b = new VhostUserBackend(socketPath, device, name, fd);
        b.acceptor.start();
        return b;
    }

    private static void removeStaleSocket(Path path) {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
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

    /** Front-end connections accepted so far. */
    public int connections() {
        return connections;
    }

    /** Whether a front-end is connected now. */
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
            LOG.info(name + ": front-end connected on " + socketPath);
            try {
                new BackendConnection(name, device, s).serve();
            } catch (Throwable t) {
                LOG.log(Level.SEVERE, name + ": connection handler failed", t);
                s.close();
            } finally {
                current = null;
            }
        }
    }

    /**
     * Stops accepting, ends the current connection (its workers complete the requests in
     * hand first), and removes the socket file.
     */
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
