package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/** madvise(2): hints about how a mapping will be used. */
public final class Madvise {
    /** Back the range with transparent huge pages where the kernel allows it. */
    public static final int MADV_HUGEPAGE = 14;
    /** Leave the range out of core dumps (guest RAM). */
    public static final int MADV_DONTDUMP = 16;
    /** Fault the range in writable now (Linux 5.14+); EINVAL on older kernels. */
    public static final int MADV_POPULATE_WRITE = 23;

    private Madvise() {}

    /** madvise on the whole of {@code range}; throws {@link LinuxException} on failure. */
    public static void advise(MemorySegment range, int advice) {
        try {
            int r = (int) H.MADVISE.invokeExact(NativeCall.state(), range, range.byteSize(), advice);
            if (r < 0) {
                throw new LinuxException("madvise(" + advice + ")", NativeCall.errno());
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** Like {@link #advise} but returns false instead of throwing: for hints that may be unsupported. */
    public static boolean tryAdvise(MemorySegment range, int advice) {
        try {
            advise(range, advice);
            return true;
        } catch (LinuxException e) {
            return false;
        }
    }

    private static final class H {
        static final MethodHandle MADVISE = NativeCall.downcall("madvise",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    }
}
