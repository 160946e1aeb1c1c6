package io.qingtian.vhostuser.backend;

import io.qingtian.sys.BoundedWait;
import io.qingtian.sys.Errno;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.UnixSockets;
import io.qingtian.sys.UserError;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A vhost-user back-end listening on a unix socket for one device: it serves one front-end
 * connection at a time and, when that front-end goes away, waits for the next one, which
 * starts from a clean state. Other devices (other instances) are unaffected by anything
 * one front-end does.
 *
 * <p>Every thread serving this device (the acceptor, which runs the connection, its queue
 * workers and their helpers, each started by the one before) belongs to one thread group, so
 * that a close that does not finish in time can name exactly the threads it waits for.
 */
public final class VhostUserBackend implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VhostUserBackend.class.getName());

    private final Path socketPath;
    private final VhostUserDevice device;
    private final String name;
    private final int listenFd;
    private final ThreadGroup threads;
    private final Thread acceptor;
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final AtomicBoolean listenClosed = new AtomicBoolean();
    private volatile boolean closing;
    private volatile VhostUserSocket current;
    private volatile int connections;
    private final java.util.concurrent.atomic.AtomicInteger inflightRequested = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger inflightSet = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger resubmitted = new java.util.concurrent.atomic.AtomicInteger();
    private final BackendEvents events = new BackendEvents() {
        @Override
        public void inflightRequested(int numQueues, int queueSize) {
            inflightRequested.incrementAndGet();
        }

        @Override
        public void inflightSet(int numQueues, int queueSize) {
            inflightSet.incrementAndGet();
        }

        @Override
        public void resubmitting(int queue, int count) {
            resubmitted.addAndGet(count);
        }
    };

    private VhostUserBackend(Path socketPath, VhostUserDevice device, String name, int listenFd) {
        this.socketPath = socketPath;
        this.device = device;
        this.name = name;
        this.listenFd = listenFd;
        this.threads = new ThreadGroup(name);
        // Threads inherit the group of the thread that creates them: the connection's workers
        // are started by the acceptor, their helpers by the workers.
        this.acceptor = Thread.ofPlatform().group(threads).daemon().name(name + "-vhost-user").unstarted(this::acceptLoop);
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

    /** Inflight tracking so far: regions created (GET_INFLIGHT_FD), regions accepted (SET_INFLIGHT_FD), requests resubmitted. */
    public record InflightStats(int regionsCreated, int regionsSet, int resubmitted) {}

    public InflightStats inflightStats() {
        return new InflightStats(inflightRequested.get(), inflightSet.get(), resubmitted.get());
    }

    /** Whether a front-end is connected now. */
    public boolean connected() {
        return current != null;
    }

    private void acceptLoop() {
        try {
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
                VhostUserSocket s = new VhostUserSocket(fd);
                current = s;
                // close() sets closing before it reads current; this reads closing after setting
                // current: one of the two sees the other, so a connection accepted while closing
                // is never served.
                if (closing) {
                    s.close();
                    return;
                }
                connections++;
                LOG.info(name + ": front-end connected on " + socketPath);
                try {
                    new BackendConnection(name, device, s, events).serve();
                } catch (Throwable t) {
                    LOG.log(Level.SEVERE, name + ": connection handler failed", t);
                    s.close();
                } finally {
                    current = null;
                }
            }
        } finally {
            terminated.complete(null);
        }
    }

    /**
     * Stops accepting, ends the current connection (its workers complete the requests in
     * hand first), and removes the socket file; waits for all that at most
     * {@link BoundedWait#SHUTDOWN} (see {@link #close(Duration)}).
     */
    @Override
    public void close() {
        close(BoundedWait.SHUTDOWN);
    }

    /**
     * {@link #close()}, waiting at most {@code bound} for the connection and its workers to
     * end. Returns true when everything has stopped. False when a request is stuck (a backend
     * that does not return): the threads still busy are reported, the socket file is gone
     * anyway, and what they use (guest memory, ring fds) is released by the connection
     * itself once they return (see {@link #terminated()}). Calling it again waits again.
     */
    public boolean close(Duration bound) {
        beginClose();
        if (BoundedWait.join(acceptor, bound)) {
            return true;
        }
        BoundedWait.report(name + ": close did not finish within " + bound.toMillis()
                + " ms (a request is stuck); going on, its resources are released when it returns", liveThreads());
        return false;
    }

    private synchronized void beginClose() {
        if (!closing) {
            closing = true;
            UnixSockets.shutdown(listenFd);
            VhostUserSocket s = current;
            if (s != null) {
                s.shutdown();
            }
            try {
                Files.deleteIfExists(socketPath);
            } catch (IOException e) {
                LOG.warning(name + ": cannot remove " + socketPath + ": " + e.getMessage());
            }
            // The listening fd is closed by whoever comes last: never under the acceptor.
            terminated.whenComplete((v, e) -> closeListenFd());
        }
    }

    /** Completes when the acceptor, the connection and every worker have ended. */
    public CompletableFuture<Void> terminated() {
        return terminated.copy();
    }

    private void closeListenFd() {
        if (listenClosed.compareAndSet(false, true)) {
            Libc.closeQuietly(listenFd);
        }
    }

    /** The threads serving this device now: acceptor, queue workers, helpers. */
    List<Thread> liveThreads() {
        Thread[] all = new Thread[threads.activeCount() + 16];
        int n = threads.enumerate(all, true);
        return List.copyOf(Arrays.asList(all).subList(0, n));
    }
}
