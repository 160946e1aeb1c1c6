package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Thread-directed signals without a Java signal handler, for kicking a thread out of a
 * blocking system call (KVM_RUN): the target thread blocks the signal with
 * {@link #blockInThisThread}, something unblocks it only inside the call (KVM_SET_SIGNAL_MASK),
 * {@link #kill} makes it pending, and the target consumes it with {@link #consumePending}.
 * A blocked signal is never delivered, so no handler runs and the default action
 * (terminate) never applies; the kernel also skips the group-kill shortcut for a signal
 * in the thread's saved ("real") blocked mask while KVM_RUN has swapped it.
 */
public final class Signals {
    /** glibc's sigset_t is 1024 bits. */
    public static final int SIGSET_BYTES = 128;
    private static final int SIG_BLOCK = 0;
    private static final int SIG_UNBLOCK = 1;
    private static final int ESRCH = 3;

    private Signals() {}

    /** SIGRTMIN as glibc reports it (glibc reserves the first real-time signals for itself). */
    public static int sigrtmin() {
        try {
            return (int) Sigrtmin.H.invokeExact();
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** A sigset_t holding {@code signals}, in {@code arena}. */
    public static MemorySegment sigset(Arena arena, int... signals) {
        MemorySegment s = arena.allocate(SIGSET_BYTES, 8);
        for (int sig : signals) {
            if (sig < 1 || sig > SIGSET_BYTES * 8) {
                throw new IllegalArgumentException("bad signal " + sig);
            }
            int bit = sig - 1;
            s.set(JAVA_BYTE, bit / 8, (byte) (s.get(JAVA_BYTE, bit / 8) | (1 << (bit % 8))));
        }
        return s;
    }

    /** This thread's pthread_t, to pass to {@link #kill} from another thread. */
    public static long pthreadSelf() {
        try {
            return (long) PthreadSelf.H.invokeExact();
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** Blocks {@code sig} in the calling thread; returns the thread's previous mask (a sigset_t in {@code arena}). */
    public static MemorySegment blockInThisThread(Arena arena, int sig) {
        MemorySegment old = arena.allocate(SIGSET_BYTES, 8);
        sigmask(SIG_BLOCK, sigset(arena, sig), old);
        return old;
    }

    /** Unblocks {@code sig} in the calling thread. */
    public static void unblockInThisThread(int sig) {
        try (Arena a = Arena.ofConfined()) {
            sigmask(SIG_UNBLOCK, sigset(a, sig), MemorySegment.NULL);
        }
    }

    private static void sigmask(int how, MemorySegment set, MemorySegment old) {
        try {
            int err = (int) PthreadSigmask.H.invokeExact(how, set, old);
            if (err != 0) {
                throw new LinuxException("pthread_sigmask", err);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /**
     * pthread_kill: makes {@code sig} pending for {@code thread}. Returns false if the thread
     * has already exited (ESRCH), which a stopping VM treats as "nothing to kick".
     */
    public static boolean kill(long thread, int sig) {
        try {
            int err = (int) PthreadKill.H.invokeExact(thread, sig);
            if (err == ESRCH) {
                return false;
            }
            if (err != 0) {
                throw new LinuxException("pthread_kill", err);
            }
            return true;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /**
     * Removes a pending {@code set} signal from the calling thread without waiting
     * (sigtimedwait with a zero timeout). Returns the signal number, or -1 if none was pending.
     *
     * @param set     a sigset from {@link #sigset}
     * @param timeout a zeroed struct timespec (16 bytes), reused by the caller
     */
    public static int consumePending(MemorySegment set, MemorySegment timeout) {
        try {
            int r = (int) Sigtimedwait.H.invokeExact(NativeCall.state(), set, MemorySegment.NULL, timeout);
            if (r < 0) {
                int errno = NativeCall.errno();
                if (errno == Errno.EAGAIN || errno == Errno.EINTR) {
                    return -1;
                }
                throw new LinuxException("sigtimedwait", errno);
            }
            return r;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** A zero struct timespec for {@link #consumePending}. */
    public static MemorySegment zeroTimeout(Arena arena) {
        return arena.allocate(16, 8);
    }

    private static final class Sigrtmin {
        static final MethodHandle H = NativeCall.downcallNoErrno("__libc_current_sigrtmin", FunctionDescriptor.of(JAVA_INT));
    }

    private static final class PthreadSelf {
        static final MethodHandle H = NativeCall.downcallNoErrno("pthread_self", FunctionDescriptor.of(JAVA_LONG));
    }

    private static final class PthreadSigmask {
        static final MethodHandle H = NativeCall.downcallNoErrno("pthread_sigmask",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    }

    private static final class PthreadKill {
        static final MethodHandle H = NativeCall.downcallNoErrno("pthread_kill",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    private static final class Sigtimedwait {
        static final MethodHandle H = NativeCall.downcall("sigtimedwait",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    }
}
