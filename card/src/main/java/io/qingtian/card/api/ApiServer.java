package io.qingtian.card.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The control API's listeners: TCP on a loopback address (what a control plane or
 * {@code qt cloud} calls; port 0 = any free port) and a Unix socket {@code STATE/api.sock}
 * (0600) for local use. Requests are handled on virtual threads (blocking is natural here:
 * volume and instance operations wait on disks and processes).
 */
public final class ApiServer implements AutoCloseable {
    private final Server server;
    private final ServerConnector tcp;
    private final Path socket;

    /** @param host null: no TCP listener */
    public ApiServer(ApiHandler handler, String host, int port, Path socket) throws Exception {
        QueuedThreadPool pool = new QueuedThreadPool(32, 2);
        pool.setName("card-api");
        pool.setVirtualThreadsExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        this.server = new Server(pool);
        HttpConfiguration cfg = new HttpConfiguration();
        cfg.setSendServerVersion(false);
        cfg.setSendDateHeader(false);
        if (host != null) {
            this.tcp = new ServerConnector(server, new HttpConnectionFactory(cfg));
            tcp.setHost(host);
            tcp.setPort(port);
            server.addConnector(tcp);
        } else {
            this.tcp = null; // Unix socket only
        }
        this.socket = socket;
        if (socket != null) {
            Files.deleteIfExists(socket);
            UnixDomainServerConnector unix = new UnixDomainServerConnector(server, new HttpConnectionFactory(cfg));
            unix.setUnixDomainPath(socket);
            server.addConnector(unix);
        }
        server.setHandler(handler);
        server.setStopTimeout(2000);
        server.start();
        if (socket != null) {
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        }
    }

    /** The bound TCP port (useful with port 0). */
    public int port() {
        return tcp == null ? -1 : tcp.getLocalPort();
    }

    /** http://HOST:PORT, or null when only the Unix socket serves. */
    public String endpoint() {
        if (tcp == null) {
            return null;
        }
        String h = tcp.getHost();
        return "http://" + (h.contains(":") ? "[" + h + "]" : h) + ":" + port();
    }

    @Override
    public void close() {
        try {
            server.stop();
            if (socket != null) {
                Files.deleteIfExists(socket);
            }
        } catch (Exception e) {
            System.err.println("stopping the control API: " + e.getMessage());
        }
    }
}
