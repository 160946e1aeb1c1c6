package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;

/**
 * lseek(2) with SEEK_DATA / SEEK_HOLE: where a sparse file's data is, so a reader can skip its
 * holes without reading them (a snapshot's memory file is mostly holes).
 */
public final class FileExtents {
    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;
    /** lseek's "no data at or after this offset". */
    static final int ENXIO = 6;

    private FileExtents() {}

    /**
     * The first offset at or after {@code from} that holds data, or -1 when only a hole (or the
     * end of the file) follows. A file system without SEEK_DATA throws (EINVAL).
     */
    public static long nextData(int fd, long from) {
        return seek(fd, from, SEEK_DATA);
    }

    /** The first hole at or after {@code from} (the end of the file counts as one). */
    public static long nextHole(int fd, long from) {
        return seek(fd, from, SEEK_HOLE);
    }

    private static long seek(int fd, long from, int whence) {
        try {
            long r = (long) H.LSEEK.invokeExact(NativeCall.state(), fd, from, whence);
            if (r < 0) {
                int errno = NativeCall.errno();
                if (errno == ENXIO) {
                    return -1;
                }
                throw new LinuxException(whence == SEEK_DATA ? "lseek(SEEK_DATA)" : "lseek(SEEK_HOLE)", errno);
            }
            return r;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class H {
        static final MethodHandle LSEEK = NativeCall.downcall("lseek",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    }
}
