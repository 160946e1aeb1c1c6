package io.qingtian.vhostuser.protocol;

import static io.qingtian.vhostuser.protocol.VhostUser.HEADER_SIZE;

import io.qingtian.sys.Libc;
import io.qingtian.sys.Poll;
import io.qingtian.sys.UnixSockets;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * A connected vhost-user unix socket: reads and writes whole {@link Message}s with their
 * fds. Used by one thread at a time (the connection's message loop, or the front-end's
 * caller). Closing wakes a thread blocked in {@link #receive}.
 *
 * <p>Two kinds of wait: a back-end waiting for the next request waits as long as it takes
 * (an idle front-end is normal), a front-end waiting for a reply waits until a deadline
 * ({@link #receive(boolean, long, Supplier)}): a back-end that accepted the connection and
 * then stopped answering must not hang the VMM (vhost-user.rst makes every reply
 * synchronous, and QEMU and rust-vmm's front-ends block on it without a bound).
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
        return receive(expectReply, 0, null);
    }

    /**
     * {@link #receive(boolean)} that gives up when the whole message has not arrived by
     * {@code deadlineNanos} ({@link System#nanoTime} scale): then it throws a
     * {@link VhostUserProtocolException} with {@code late}'s message. A message cut off by the
     * deadline leaves the stream in the middle of a message: the caller must not read from
     * this socket again (the front-end shuts it down). {@code late} null: no deadline.
     */
    public Message receive(boolean expectReply, long deadlineNanos, Supplier<String> late) throws VhostUserProtocolException {
        int[] fds = new int[0];
        try {
            long got = 0;
            while (got < HEADER_SIZE) {
                awaitReadable(deadlineNanos, late);
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
                awaitReadable(deadlineNanos, late);
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

    /**
     * Returns when the socket is readable (data, end-of-file or an error for recvmsg to
     * report); throws {@code late}'s message when the deadline passes first.
     */
    private void awaitReadable(long deadlineNanos, Supplier<String> late) throws VhostUserProtocolException {
        if (late == null) {
            return;
        }
        while (true) {
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                // One last look without waiting: a reply that came just as the time ran out counts.
                if (Poll.waitReadable(new int[] {fd}, 0) >= 0) {
                    return;
                }
                throw new VhostUserProtocolException(late.get());
            }
            // Round up: a 0 ms poll for the last 0.4 ms would spin.
            int millis = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
            if (Poll.waitReadable(new int[] {fd}, millis) >= 0) {
                return;
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
