package io.qingtian.hypervisor.vhostuser;

import io.qingtian.sys.Libc;
import io.qingtian.sys.UnixSockets;
import io.qingtian.vhostuser.protocol.Message;
import io.qingtian.vhostuser.protocol.RequestCode;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A vhost-user back-end that stops answering on demand: it relays each front-end connection
 * to a real back-end (messages and their fds) until {@link #stall} is set, then reads and
 * drops every request without a reply, keeping the connection open — a back-end stalled in
 * the middle of its work, or a hostile one.
 */
final class StallingRelay implements AutoCloseable {
    /** Requests that are always answered (vhost-user.rst); the others only with NEED_REPLY. */
    private static final Set<RequestCode> ANSWERED = EnumSet.of(RequestCode.GET_FEATURES, RequestCode.GET_PROTOCOL_FEATURES,
            RequestCode.GET_QUEUE_NUM, RequestCode.GET_VRING_BASE, RequestCode.GET_CONFIG, RequestCode.GET_INFLIGHT_FD);

    private final Path backend;
    private final int listenFd;
    volatile boolean stall;
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger dropped = new AtomicInteger();

    StallingRelay(Path listen, Path backend) {
        this.backend = backend;
        this.listenFd = UnixSockets.listen(listen, 8);
        Thread.ofPlatform().daemon().name("stalling-relay").start(this::acceptLoop);
    }

    private void acceptLoop() {
        while (true) {
            int fd;
            try {
                fd = UnixSockets.accept(listenFd);
            } catch (RuntimeException e) {
                return; // closed
            }
            connections.incrementAndGet();
            Thread.ofPlatform().daemon().name("stalling-relay-conn").start(() -> relay(new VhostUserSocket(fd)));
        }
    }

    private void relay(VhostUserSocket front) {
        VhostUserSocket back = null;
        try {
            back = new VhostUserSocket(UnixSockets.connect(backend));
            while (true) {
                Message m = front.receive(false);
                if (m == null) {
                    return;
                }
                try {
                    if (stall) {
                        dropped.incrementAndGet();
                        continue;
                    }
                    back.send(m);
                } finally {
                    for (int f : m.fds()) {
                        Libc.closeQuietly(f); // sendmsg passed copies; ours are done
                    }
                }
                RequestCode c = RequestCode.of(m.request());
                if (m.needsReply() || ANSWERED.contains(c)) {
                    Message r = back.receive(true);
                    if (r == null) {
                        return;
                    }
                    if (stall) {
                        dropped.incrementAndGet(); // stalled while the back-end worked: the reply never leaves
                        continue;
                    }
                    try {
                        front.send(r);
                    } finally {
                        for (int f : r.fds()) {
                            Libc.closeQuietly(f); // GET_INFLIGHT_FD's region: the front-end has its copy
                        }
                    }
                }
            }
        } catch (Exception e) {
            // either side went away: end this connection
        } finally {
            front.close();
            if (back != null) {
                back.close();
            }
        }
    }

    @Override
    public void close() {
        UnixSockets.shutdown(listenFd);
        Libc.closeQuietly(listenFd);
    }
}
