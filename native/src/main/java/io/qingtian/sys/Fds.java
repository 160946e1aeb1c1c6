package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/** Small fd queries (lseek-based sizes, dup) used when fds arrive from another process. */
public final class Fds {
    public static final int SEEK_SET = 0;
    public static final int SEEK_END = 2;
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 1;
    public static final int F_SEAL_SHRINK = 2;
    public static final int F_SEAL_GROW = 4;

    private Fds() {}

    /**
     * Size of the file behind {@code fd} (lseek to the end). A peer's memfd must be at least
     * as long as what we map of it, or touching the mapping raises SIGBUS.
     */
    public static long size(int fd) {
        try {
            long end = NativeCall.check((long) Lseek.H.invokeExact(NativeCall.state(), fd, 0L, SEEK_END), "lseek");
            long ignored = (long) Lseek.H.invokeExact(NativeCall.state(), fd, 0L, SEEK_SET);
            return end;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static int dup(int fd) {
        try {
            return NativeCall.check((int) Dup.H.invokeExact(NativeCall.state(), fd), "dup");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** The memfd seals of {@code fd}, or -1 when it cannot carry seals (not a memfd). */
    public static int seals(int fd) {
        try {
            int r = (int) Fcntl.H.invokeExact(NativeCall.state(), fd, F_GET_SEALS, 0);
            return r < 0 ? -1 : r;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** Adds memfd seals (the memfd must be created with MFD_ALLOW_SEALING). */
    public static void addSeals(int fd, int seals) {
        try {
            NativeCall.check((int) Fcntl.H.invokeExact(NativeCall.state(), fd, F_ADD_SEALS, seals), "fcntl(F_ADD_SEALS)");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class Fcntl {
        static final MethodHandle H = NativeCall.downcallVariadic("fcntl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), 2);
    }

    private static final class Lseek {
        static final MethodHandle H = NativeCall.downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    private static final class Dup {
        static final MethodHandle H = NativeCall.downcall("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
}
