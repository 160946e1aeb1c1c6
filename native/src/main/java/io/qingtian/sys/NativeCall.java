package io.qingtian.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one way this project makes a libc call: a downcall handle that also captures
 * {@code errno}, so a failing call can be reported as {@link LinuxException} naming the
 * call and the errno.
 *
 * <p>Handles are expensive to create (about 1 s in total inside the nested lab), so each
 * binding class keeps its handles in lazily initialised holder classes and creates them
 * once. The errno capture buffer is per thread and reused, so a call allocates nothing.
 */
public final class NativeCall {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CALL_STATE));

    private NativeCall() {}

    /** A downcall to {@code name} whose first parameter is the errno capture segment. */
    public static MethodHandle downcall(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd, CAPTURE_ERRNO);
    }

    /** A downcall to a variadic function (ioctl, fcntl): fixed arguments come first. */
    public static MethodHandle downcallVariadic(String name, FunctionDescriptor fd, int firstVariadic) {
        return LINKER.downcallHandle(symbol(name), fd, CAPTURE_ERRNO, Linker.Option.firstVariadicArg(firstVariadic));
    }

    /** A downcall without errno capture, for calls that cannot fail. */
    public static MethodHandle downcallNoErrno(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(symbol(name), fd);
    }

    private static MemorySegment symbol(String name) {
        return LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
    }

    /** This thread's errno capture segment; pass it as the first argument of the handle. */
    public static MemorySegment state() {
        return STATE.get();
    }

    /** errno as captured by the last call made with {@link #state()} on this thread. */
    public static int errno() {
        return (int) ERRNO.get(STATE.get(), 0L);
    }

    /** Returns {@code result} or throws naming {@code call} when it is negative. */
    public static int check(int result, String call) {
        if (result < 0) {
            throw new LinuxException(call, errno());
        }
        return result;
    }

    public static long check(long result, String call) {
        if (result < 0) {
            throw new LinuxException(call, errno());
        }
        return result;
    }

    /** Wraps a Throwable from {@code invokeExact}; downcalls themselves do not throw. */
    static AssertionError unexpected(Throwable t) {
        return new AssertionError("native call failed unexpectedly", t);
    }
}
