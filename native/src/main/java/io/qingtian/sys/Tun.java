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

/**
 * A TAP device (Linux Documentation/networking/tuntap.rst): open /dev/net/tun, TUNSETIFF
 * with IFF_TAP | IFF_NO_PI, then each read/write is one Ethernet frame without any prefix.
 * The descriptor is non-blocking; {@link #awaitReadable} polls with a timeout so a reader
 * thread can notice shutdown. The interface exists while the descriptor is open (unless
 * made persistent elsewhere) and must be brought up by the host side ({@code ip link set
 * IFNAME up}).
 */
public final class Tun implements AutoCloseable {
    /** _IOW('T', 202, int). */
    static final long TUNSETIFF = 0x400454caL;
    static final long SIOCGIFHWADDR = 0x8927L;
    static final short IFF_TAP = 0x0002;
    static final short IFF_NO_PI = 0x1000;
    static final int IFNAMSIZ = 16;
    /** struct ifreq: name[16] + a 24-byte union. */
    static final int IFREQ_SIZE = 40;
    static final short POLLIN = 1;

    private final int fd;
    private final String name;
    private volatile boolean closed;

    private Tun(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /** Creates (or attaches to) TAP {@code ifname}. Needs CAP_NET_ADMIN unless the TAP is owned by the caller. */
    public static Tun openTap(String ifname) {
        byte[] n = ifname.getBytes(StandardCharsets.US_ASCII);
        if (n.length == 0 || n.length >= IFNAMSIZ || ifname.contains("/") || ifname.contains(" ")) {
            throw new UserError("bad interface name (1-15 characters, no '/' or space): " + ifname);
        }
        int fd = Libc.open("/dev/net/tun", Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_SIZE);
            MemorySegment.copy(n, 0, ifr, JAVA_BYTE, 0, n.length);
            ifr.set(JAVA_SHORT, IFNAMSIZ, (short) (IFF_TAP | IFF_NO_PI));
            Libc.ioctl(fd, TUNSETIFF, ifr, "ioctl(TUNSETIFF " + ifname + ")");
            String actual = ifr.getString(0, StandardCharsets.US_ASCII);
            return new Tun(fd, actual);
        } catch (RuntimeException e) {
            Libc.closeQuietly(fd);
            throw e;
        }
    }

    public String name() {
        return name;
    }

    /** The interface's MAC address (the host side of the link), via SIOCGIFHWADDR. */
    public byte[] hardwareAddress() {
        int s = socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */ | 02000000 /* SOCK_CLOEXEC */, 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ_SIZE);
            byte[] n = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(n, 0, ifr, JAVA_BYTE, 0, n.length);
            Libc.ioctl(s, SIOCGIFHWADDR, ifr, "ioctl(SIOCGIFHWADDR " + name + ")");
            byte[] mac = new byte[6];
            // struct sockaddr at offset 16: sa_family (2 bytes), then sa_data.
            MemorySegment.copy(ifr, JAVA_BYTE, IFNAMSIZ + 2, mac, 0, 6);
            return mac;
        } finally {
            Libc.closeQuietly(s);
        }
    }

    /** Waits up to {@code timeoutMillis} for a frame; false on timeout or EINTR. */
    public boolean awaitReadable(int timeoutMillis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pfd = a.allocate(8);
            pfd.set(JAVA_INT, 0, fd);
            pfd.set(JAVA_SHORT, 4, POLLIN);
            int r = (int) Poll.H.invokeExact(NativeCall.state(), pfd, 1L, timeoutMillis);
            if (r < 0) {
                int e = NativeCall.errno();
                if (e == Errno.EINTR) {
                    return false;
                }
                throw new LinuxException("poll(" + name + ")", e);
            }
            return r > 0;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** Reads one frame into {@code buf}; returns its length, or -1 if none is pending (EAGAIN). */
    public int read(MemorySegment buf) {
        long r = Libc.readRaw(fd, buf, buf.byteSize());
        if (r < 0) {
            int e = NativeCall.errno();
            if (e == Errno.EAGAIN || e == Errno.EINTR) {
                return -1;
            }
            throw new LinuxException("read(" + name + ")", e);
        }
        return (int) r;
    }

    /**
     * Writes one frame. Returns false when the kernel refuses it for a transient reason
     * (interface down: EIO; queue full: EAGAIN), which the switch counts as a drop.
     */
    public boolean write(MemorySegment frame) {
        long r = Libc.writeRaw(fd, frame, frame.byteSize());
        if (r < 0) {
            int e = NativeCall.errno();
            if (e == Errno.EAGAIN || e == Errno.EIO || e == Errno.EINTR || e == Errno.ENOMEM) {
                return false;
            }
            throw new LinuxException("write(" + name + ")", e);
        }
        return r == frame.byteSize();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Libc.closeQuietly(fd);
        }
    }

    private static int socket(int domain, int type, int proto) {
        try {
            return NativeCall.check((int) Socket.H.invokeExact(NativeCall.state(), domain, type, proto), "socket");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class Poll {
        static final MethodHandle H = NativeCall.downcall("poll",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }

    private static final class Socket {
        static final MethodHandle H = NativeCall.downcall("socket",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    }
}
