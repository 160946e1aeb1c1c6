package io.qingtian.vhostuser.protocol;

import static io.qingtian.vhostuser.protocol.VhostUser.HEADER_SIZE;

import io.qingtian.sys.Libc;
import io.qingtian.sys.UnixSockets;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A connected vhost-user unix socket: reads and writes whole {@link Message}s with their
 * fds. Used by one thread at a time (the connection's message loop, or the front-end's
 * caller). Closing wakes a thread blocked in {@link #receive}.
 */
public final class VhostUserSocket implements AutoCloseable {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int fd;
    private final MemorySegment buffer = Arena.ofAuto().allocate(HEADER_SIZE + VhostUser.MAX_PAYLOAD, 8);
    private volatile boolean closed;

    public VhostUserSocket(int fd) {
        this.fd = fd;
    }

    public int fd() {
        return fd;
    }

    /**
     * Reads one message. Returns null when the peer closed the connection between messages;
     * throws when it closed mid-message or the header is invalid (fds received with a bad
     * message are closed here).
     */
    public Message receive(boolean expectReply) throws VhostUserProtocolException {
        int[] fds = new int[0];
        try {
            long got = 0;
            while (got < HEADER_SIZE) {
                UnixSockets.Received r = UnixSockets.recvmsg(fd, buffer.asSlice(got, HEADER_SIZE - got));
                fds = concat(fds, r.fds());
                if (r.controlTruncated()) {
                    throw new VhostUserProtocolException("message carried more than " + UnixSockets.MAX_FDS + " fds");
                }
                if (r.bytes() == 0) {
                    if (got == 0 && fds.length == 0) {
                        return null;
                    }
                    throw new VhostUserProtocolException("peer closed the connection inside a message header");
                }
                got += r.bytes();
            }
            int request = buffer.get(U32, 0);
            int flags = buffer.get(U32, 4);
            int size = buffer.get(U32, 8);
            VhostUserCodec.checkHeader(request, flags, size, expectReply);
            long have = 0;
            while (have < size) {
                UnixSockets.Received r = UnixSockets.recvmsg(fd, buffer.asSlice(HEADER_SIZE + have, size - have));
                fds = concat(fds, r.fds());
                if (r.controlTruncated()) {
                    throw new VhostUserProtocolException("message carried more than " + UnixSockets.MAX_FDS + " fds");
                }
                if (r.bytes() == 0) {
                    throw new VhostUserProtocolException("peer closed the connection after " + have + " of "
                            + size + " payload bytes of " + RequestCode.of(request));
                }
                have += r.bytes();
            }
            byte[] payload = buffer.asSlice(HEADER_SIZE, size).toArray(ValueLayout.JAVA_BYTE);
            Message m = new Message(request, flags, payload, fds);
            fds = new int[0];
            return m;
        } finally {
            for (int f : fds) {
                Libc.closeQuietly(f);
            }
        }
    }

    /** Sends one message (header, payload, fds) in a single sendmsg. */
    public void send(Message m) {
        byte[] p = m.payload();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(HEADER_SIZE + p.length, 8);
            out.set(U32, 0, m.request());
            out.set(U32, 4, m.flags());
            out.set(U32, 8, p.length);
            MemorySegment.copy(p, 0, out, ValueLayout.JAVA_BYTE, HEADER_SIZE, p.length);
            UnixSockets.sendmsg(fd, out, out.byteSize(), m.fds());
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Shuts the connection down without closing the fd: a thread blocked in {@link #receive}
     * wakes up and sees end-of-file. Safe from any thread; the owner still calls close. After
     * {@link #close} it does nothing: the fd number may already belong to another file.
     */
    public synchronized void shutdown() {
        if (!closed) {
            UnixSockets.shutdown(fd);
        }
    }

    /** Shuts the socket down and closes it; called by the thread that owns the socket. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        UnixSockets.shutdown(fd);
        Libc.closeQuietly(fd);
    }

    private static int[] concat(int[] a, int[] b) {
        if (b.length == 0) {
            return a;
        }
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
