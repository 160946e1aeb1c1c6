package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Allocation-free eventfd signalling and waiting for virtqueue workers (kick/call fds). The
 * fds may be non-blocking (QEMU creates its notifiers with EFD_NONBLOCK), so waiting is
 * poll(2) and then a read that tolerates EAGAIN.
 *
 * <p>An instance holds scratch memory for one thread: create one per worker.
 */
public final class EventFd {
    private static final short POLLIN = 1;

    private final MemorySegment scratch;
    private final MemorySegment pollfds;

    public EventFd() {
        Arena a = Arena.ofAuto();
        scratch = a.allocate(8, 8);
        pollfds = a.allocate(16, 8);
    }

    /** Adds 1 to the eventfd's counter. Returns false if the fd is gone (EBADF, ...). */
    public boolean signal(int fd) {
        scratch.set(JAVA_LONG, 0, 1L);
        try {
            while (true) {
                long r = (long) H.WRITE.invokeExact(NativeCall.state(), fd, scratch, 8L);
                if (r == 8) {
                    return true;
                }
                int errno = NativeCall.errno();
                if (r < 0 && errno == Errno.EINTR) {
                    continue;
                }
                // EAGAIN: the counter is saturated, the peer will wake anyway.
                return r < 0 && errno == Errno.EAGAIN;
            }
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** Resets the counter; returns its value (0 when nothing was pending or on error). */
    public long consume(int fd) {
        try {
            long r = (long) H.READ.invokeExact(NativeCall.state(), fd, scratch, 8L);
            return r == 8 ? scratch.get(JAVA_LONG, 0) : 0;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /**
     * Waits until {@code fd} or {@code stopFd} (-1 = none) is readable or the timeout (ms,
     * -1 = forever) passes. Returns 0 for fd, 1 for stopFd, -1 for timeout, -2 when fd hung
     * up or is invalid.
     */
    public int await(int fd, int stopFd, int timeoutMillis) {
        pollfds.set(JAVA_INT, 0, fd);
        pollfds.set(JAVA_SHORT, 4, POLLIN);
        pollfds.set(JAVA_SHORT, 6, (short) 0);
        pollfds.set(JAVA_INT, 8, stopFd);
        pollfds.set(JAVA_SHORT, 12, POLLIN);
        pollfds.set(JAVA_SHORT, 14, (short) 0);
        try {
            while (true) {
                int r = (int) H.POLL.invokeExact(NativeCall.state(), pollfds, stopFd < 0 ? 1L : 2L, timeoutMillis);
                if (r < 0) {
                    if (NativeCall.errno() == Errno.EINTR) {
                        continue;
                    }
                    throw new LinuxException("poll", NativeCall.errno());
                }
                if (r == 0) {
                    return -1;
                }
                if (stopFd >= 0 && pollfds.get(JAVA_SHORT, 14) != 0) {
                    return 1;
                }
                short rev = pollfds.get(JAVA_SHORT, 6);
                return (rev & POLLIN) != 0 ? 0 : -2;
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class H {
        static final MethodHandle READ = NativeCall.downcall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        static final MethodHandle WRITE = NativeCall.downcall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
        static final MethodHandle POLL = NativeCall.downcall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
}
