package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * AF_UNIX stream sockets with file-descriptor passing (SCM_RIGHTS), which the JDK's
 * SocketChannel cannot do. vhost-user needs it: memory regions and eventfds travel as
 * ancillary data (unix(7), cmsg(3)).
 *
 * <p>Layouts are the x86_64/aarch64 LP64 ones: {@code struct sockaddr_un} (110 bytes),
 * {@code struct msghdr} (56 bytes), {@code struct cmsghdr} (16-byte header).
 */
public final class UnixSockets {
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int SOL_SOCKET = 1;
    public static final int SCM_RIGHTS = 1;
    public static final int MSG_CTRUNC = 0x8;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int MSG_CMSG_CLOEXEC = 0x40000000;
    public static final int SHUT_RDWR = 2;

    /** Most fds one received message may carry; more is a protocol violation (truncated). */
    public static final int MAX_FDS = 32;

    private static final int SUN_PATH_MAX = 108;
    private static final long SOCKADDR_UN_SIZE = 110;
    private static final long MSGHDR_SIZE = 56;
    private static final long CMSG_HDR = 16;

    private UnixSockets() {}

    /** What one recvmsg delivered: byte count (0 = peer closed), fds, and whether fds were cut off. */
    public record Received(long bytes, int[] fds, boolean controlTruncated) {}

    /** socket + bind + listen on {@code path} (which must not exist). */
    public static int listen(Path path, int backlog) {
        int fd = socket();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = sockaddr(a, path);
            NativeCall.check((int) Bind.H.invokeExact(NativeCall.state(), fd, addr, (int) SOCKADDR_UN_SIZE), "bind(" + path + ")");
            NativeCall.check((int) Listen.H.invokeExact(NativeCall.state(), fd, backlog), "listen(" + path + ")");
            return fd;
        } catch (LinuxException e) {
            Libc.closeQuietly(fd);
            throw e;
        } catch (Throwable t) {
            Libc.closeQuietly(fd);
            throw NativeCall.unexpected(t);
        }
    }

    /** Blocks until a peer connects; returns the connected fd (close-on-exec). */
    public static int accept(int listenFd) {
        try {
            while (true) {
                int r = (int) Accept4.H.invokeExact(NativeCall.state(), listenFd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
                if (r >= 0) {
                    return r;
                }
                int errno = NativeCall.errno();
                if (errno != Errno.EINTR) {
                    throw new LinuxException("accept", errno);
                }
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** socket + connect to {@code path}. */
    public static int connect(Path path) {
        int fd = socket();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = sockaddr(a, path);
            NativeCall.check((int) Connect.H.invokeExact(NativeCall.state(), fd, addr, (int) SOCKADDR_UN_SIZE), "connect(" + path + ")");
            return fd;
        } catch (LinuxException e) {
            Libc.closeQuietly(fd);
            throw e;
        } catch (Throwable t) {
            Libc.closeQuietly(fd);
            throw NativeCall.unexpected(t);
        }
    }

    /** Wakes any thread blocked in accept/recvmsg on {@code fd}; errors are ignored. */
    public static void shutdown(int fd) {
        try {
            int ignored = (int) Shutdown.H.invokeExact(NativeCall.state(), fd, SHUT_RDWR);
        } catch (Throwable ignored) {
            // best effort: used on close paths
        }
    }

    /**
     * Sends all {@code len} bytes of {@code buf}; {@code fds} (may be empty) ride on the first
     * byte as SCM_RIGHTS. Never raises SIGPIPE (MSG_NOSIGNAL): a gone peer is an EPIPE error.
     */
    public static void sendmsg(int fd, MemorySegment buf, long len, int[] fds) {
        try (Arena a = Arena.ofConfined()) {
            long off = 0;
            boolean first = true;
            while (off < len || first) {
                MemorySegment iov = a.allocate(16, 8);
                iov.set(ADDRESS, 0, buf.asSlice(off));
                iov.set(JAVA_LONG, 8, len - off);
                MemorySegment msg = a.allocate(MSGHDR_SIZE, 8);
                msg.set(ADDRESS, 16, iov);
                msg.set(JAVA_LONG, 24, 1L);
                if (first && fds.length > 0) {
                    long space = CMSG_HDR + align8(4L * fds.length);
                    MemorySegment ctl = a.allocate(space, 8);
                    ctl.set(JAVA_LONG, 0, CMSG_HDR + 4L * fds.length);
                    ctl.set(JAVA_INT, 8, SOL_SOCKET);
                    ctl.set(JAVA_INT, 12, SCM_RIGHTS);
                    for (int i = 0; i < fds.length; i++) {
                        ctl.set(JAVA_INT, CMSG_HDR + 4L * i, fds[i]);
                    }
                    msg.set(ADDRESS, 32, ctl);
                    msg.set(JAVA_LONG, 40, space);
                }
                long r = (long) Sendmsg.H.invokeExact(NativeCall.state(), fd, msg, MSG_NOSIGNAL);
                if (r < 0) {
                    int errno = NativeCall.errno();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    throw new LinuxException("sendmsg", errno);
                }
                off += r;
                first = false;
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /**
     * One recvmsg of at most {@code buf.byteSize()} bytes, accepting up to {@link #MAX_FDS}
     * fds (close-on-exec). Returns what arrived; bytes 0 means the peer closed.
     */
    public static Received recvmsg(int fd, MemorySegment buf) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment iov = a.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, buf.byteSize());
            long space = CMSG_HDR + align8(4L * MAX_FDS);
            MemorySegment ctl = a.allocate(space, 8);
            MemorySegment msg = a.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1L);
            msg.set(ADDRESS, 32, ctl);
            msg.set(JAVA_LONG, 40, space);
            long r;
            while (true) {
                r = (long) Recvmsg.H.invokeExact(NativeCall.state(), fd, msg, MSG_CMSG_CLOEXEC);
                if (r >= 0) {
                    break;
                }
                int errno = NativeCall.errno();
                if (errno != Errno.EINTR) {
                    throw new LinuxException("recvmsg", errno);
                }
            }
            int flags = msg.get(JAVA_INT, 48);
            long controlLen = msg.get(JAVA_LONG, 40);
            int[] fds = new int[0];
            // Walk every cmsghdr (CMSG_FIRSTHDR/CMSG_NXTHDR); collect SCM_RIGHTS fds.
            long pos = 0;
            while (pos + CMSG_HDR <= controlLen) {
                long cmsgLen = ctl.get(JAVA_LONG, pos);
                if (cmsgLen < CMSG_HDR || pos + cmsgLen > controlLen) {
                    break;
                }
                if (ctl.get(JAVA_INT, pos + 8) == SOL_SOCKET && ctl.get(JAVA_INT, pos + 12) == SCM_RIGHTS) {
                    int n = (int) ((cmsgLen - CMSG_HDR) / 4);
                    int[] more = new int[fds.length + n];
                    System.arraycopy(fds, 0, more, 0, fds.length);
                    for (int i = 0; i < n; i++) {
                        more[fds.length + i] = ctl.get(JAVA_INT, pos + CMSG_HDR + 4L * i);
                    }
                    fds = more;
                }
                pos += align8(cmsgLen);
            }
            return new Received(r, fds, (flags & MSG_CTRUNC) != 0);
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static int socket() {
        try {
            return NativeCall.check((int) Socket.H.invokeExact(NativeCall.state(), AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_UNIX)");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static MemorySegment sockaddr(Arena a, Path path) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length >= SUN_PATH_MAX) {
            throw new UserError("unix socket path too long (" + p.length + " bytes, at most "
                    + (SUN_PATH_MAX - 1) + "): " + path);
        }
        MemorySegment addr = a.allocate(SOCKADDR_UN_SIZE, 8);
        addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, addr, JAVA_BYTE, 2, p.length);
        return addr;
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    private static final class Socket {
        static final MethodHandle H = NativeCall.downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class Bind {
        static final MethodHandle H = NativeCall.downcall("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class Listen {
        static final MethodHandle H = NativeCall.downcall("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class Accept4 {
        static final MethodHandle H = NativeCall.downcall("accept4",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    }

    private static final class Connect {
        static final MethodHandle H = NativeCall.downcall("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class Shutdown {
        static final MethodHandle H = NativeCall.downcall("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class Sendmsg {
        static final MethodHandle H = NativeCall.downcall("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class Recvmsg {
        static final MethodHandle H = NativeCall.downcall("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    }
}
