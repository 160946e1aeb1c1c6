package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** poll(2) on a few fds, for waits that need a timeout (eventfds, sockets). */
public final class Poll {
    public static final short POLLIN = 0x1;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;

    private Poll() {}

    /**
     * Waits until one of {@code fds} is readable (or hung up) or {@code timeoutMillis} pass
     * (-1 = forever). Returns the index of the first ready fd, or -1 on timeout.
     */
    public static int waitReadable(int[] fds, int timeoutMillis) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(8L * fds.length, 8);
            for (int i = 0; i < fds.length; i++) {
                p.set(JAVA_INT, 8L * i, fds[i]);
                p.set(JAVA_SHORT, 8L * i + 4, POLLIN);
            }
            while (true) {
                int r = (int) H.POLL.invokeExact(NativeCall.state(), p, (long) fds.length, timeoutMillis);
                if (r < 0) {
                    int errno = NativeCall.errno();
                    if (errno == Errno.EINTR) {
                        continue;
                    }
                    throw new LinuxException("poll", errno);
                }
                if (r == 0) {
                    return -1;
                }
                for (int i = 0; i < fds.length; i++) {
                    if (p.get(JAVA_SHORT, 8L * i + 6) != 0) {
                        return i;
                    }
                }
                return -1;
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class H {
        static final MethodHandle POLL = NativeCall.downcall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
}
