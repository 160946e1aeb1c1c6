package io.qingtian.card.control;

import io.qingtian.card.control.ControlResponse.Failure;
import io.qingtian.card.fs.Json;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The control socket ({@code STATE/control.sock}, mode 0600: only the card's user may drive
 * it). One virtual thread per connection; each line is one request, answered by one line.
 * A malformed request gets an error response and the connection stays usable; an over-long
 * one closes the connection (the stream can no longer be re-synchronized).
 *
 * <p>{@link #close()} stops accepting, then waits for requests already being handled (the
 * write lock), so shutdown never cuts a volume operation in half.
 */
public final class ControlServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ControlServer.class.getName());
    private final Path path;
    private final ServerSocketChannel server;
    private final ControlService service;
    private final ReentrantReadWriteLock inFlight = new ReentrantReadWriteLock();
    private final Set<SocketChannel> connections = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;
    // card-control: requests other services answer (network ops), raw JSON line in, line out or null
    private volatile java.util.function.UnaryOperator<String> extension;

    public ControlServer(Path path, ControlService service) throws IOException {
        this.path = path;
        this.service = service;
        Files.deleteIfExists(path); // stale socket of a crashed card; the caller holds the state lock
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        this.acceptor = Thread.ofPlatform().name("card-control").daemon().start(this::acceptLoop);
    }

    /** Lets another service answer some lines first (null from it = not mine). */
    public void extension(java.util.function.UnaryOperator<String> ext) {
        this.extension = ext;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                SocketChannel c = server.accept();
                connections.add(c);
                Thread.ofVirtual().name("control-conn").start(() -> serve(c));
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(Level.WARNING, "control accept failed", e);
                }
            }
        }
    }

    private void serve(SocketChannel c) {
        LineChannel lines = new LineChannel(c);
        try (c) {
            for (String line; (line = lines.readLine()) != null; ) {
                if (line.isBlank()) {
                    continue;
                }
                String other = handleExtension(line);
                lines.writeLine(other != null ? other.getBytes(java.nio.charset.StandardCharsets.UTF_8)
                        : Json.MAPPER.writeValueAsBytes(handleLine(line)));
            }
        } catch (LineChannel.LineTooLongException e) {
            try {
                lines.writeLine(Json.MAPPER.writeValueAsBytes(new Failure("malformed request: " + e.getMessage())));
            } catch (IOException ignored) {
                // the client is gone
            }
        } catch (IOException e) {
            if (!closed) {
                LOG.log(Level.FINE, "control connection ended", e);
            }
        } finally {
            connections.remove(c);
        }
    }

    private String handleExtension(String line) {
        java.util.function.UnaryOperator<String> ext = extension;
        if (ext == null || !inFlight.readLock().tryLock()) {
            return null;
        }
        try {
            return closed ? null : ext.apply(line);
        } finally {
            inFlight.readLock().unlock();
        }
    }

    ControlResponse handleLine(String line) {
        ControlRequest request;
        try {
            request = Json.MAPPER.readValue(line, ControlRequest.class);
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            return new Failure("malformed request: " + why);
        }
        if (request == null) {
            return new Failure("malformed request: null");
        }
        if (!inFlight.readLock().tryLock()) {
            return new Failure("card is shutting down");
        }
        try {
            if (closed) {
                return new Failure("card is shutting down");
            }
            return service.handle(request);
        } finally {
            inFlight.readLock().unlock();
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException e) {
            LOG.log(Level.FINE, "closing control socket", e);
        }
        // Waits for requests in progress, a bounded time: one stuck on a dead NBD server must
        // not keep the card from stopping (the volume manager's close copes with it).
        boolean idle = false;
        try {
            idle = inFlight.writeLock().tryLock(io.qingtian.sys.BoundedWait.SHUTDOWN.toMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (idle) {
            inFlight.writeLock().unlock();
        } else {
            io.qingtian.sys.BoundedWait.report("control socket: " + inFlight.getReadLockCount()
                    + " request(s) still in progress after " + io.qingtian.sys.BoundedWait.SHUTDOWN.toMillis()
                    + " ms; stopping anyway", java.util.List.of());
        }
        for (SocketChannel c : connections) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        try {
            acceptor.join(2000);
            Files.deleteIfExists(path);
        } catch (IOException | InterruptedException e) {
            LOG.log(Level.FINE, "removing " + path, e);
        }
    }
}
