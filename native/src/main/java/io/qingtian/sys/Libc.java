package io.qingtian.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libc file-descriptor and memory calls. Every method throws {@link LinuxException}
 * (call name + errno) on failure and returns the plain result otherwise.
 *
 * <p>Each handle lives in its own holder class so only the calls a process uses are
 * linked, and each is a constant the JIT can inline.
 */
public final class Libc {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_TRUNC = 01000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DIRECT = 040000;
    public static final int O_CLOEXEC = 02000000;

    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;

    public static final int MFD_CLOEXEC = 1;
    public static final int MFD_ALLOW_SEALING = 2;

    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 04000;
    public static final int EFD_CLOEXEC = 02000000;

    private Libc() {}

    public static int open(String path, int flags, int mode) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) Open.H.invokeExact(NativeCall.state(), a.allocateFrom(path), flags, mode);
            if (r < 0) {
                throw new LinuxException("open(" + path + ")", NativeCall.errno());
            }
            return r;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static void close(int fd) {
        try {
            NativeCall.check((int) Close.H.invokeExact(NativeCall.state(), fd), "close");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** Closes without throwing; for cleanup paths where the original error matters more. */
    public static void closeQuietly(int fd) {
        if (fd < 0) {
            return;
        }
        try {
            int ignored = (int) Close.H.invokeExact(NativeCall.state(), fd);
        } catch (Throwable ignored) {
            // cleanup only
        }
    }

    /** ioctl with an integer (or no) argument. Returns the non-negative result. */
    public static int ioctl(int fd, long request, long arg, String name) {
        try {
            int r = (int) IoctlValue.H.invokeExact(NativeCall.state(), fd, request, arg);
            if (r < 0) {
                throw new LinuxException(name, NativeCall.errno());
            }
            return r;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** ioctl with a pointer argument. Returns the non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        int r = ioctlRaw(fd, request, arg);
        if (r < 0) {
            throw new LinuxException(name, NativeCall.errno());
        }
        return r;
    }

    /**
     * ioctl with a pointer argument that returns -1 instead of throwing; the errno is in
     * {@link NativeCall#errno()}. For hot paths (KVM_RUN) where EINTR/EAGAIN are normal.
     */
    public static int ioctlRaw(int fd, long request, MemorySegment arg) {
        try {
            return (int) IoctlPtr.H.invokeExact(NativeCall.state(), fd, request, arg);
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** mmap; the returned segment has the mapping's length and must be unmapped with {@link #munmap}. */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) {
        return mmapAt(MemorySegment.NULL, length, prot, flags, fd, offset);
    }

    public static MemorySegment mmapAt(MemorySegment addr, long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment p = (MemorySegment) Mmap.H.invokeExact(NativeCall.state(), addr, length, prot, flags, fd, offset);
            if (p.address() == -1L) {
                throw new LinuxException("mmap(len=" + length + ")", NativeCall.errno());
            }
            return p.reinterpret(length);
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static void munmap(MemorySegment mapping) {
        try {
            NativeCall.check((int) Munmap.H.invokeExact(NativeCall.state(), mapping, mapping.byteSize()), "munmap");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static int memfdCreate(String name, int flags) {
        try (Arena a = Arena.ofConfined()) {
            return NativeCall.check((int) MemfdCreate.H.invokeExact(NativeCall.state(), a.allocateFrom(name), flags),
                    "memfd_create");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static void ftruncate(int fd, long length) {
        try {
            NativeCall.check((int) Ftruncate.H.invokeExact(NativeCall.state(), fd, length), "ftruncate");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static int eventfd(int initval, int flags) {
        try {
            return NativeCall.check((int) Eventfd.H.invokeExact(NativeCall.state(), initval, flags), "eventfd");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** read(2); returns bytes read (0 at EOF). Throws on error, including EAGAIN. */
    public static long read(int fd, MemorySegment buf, long count) {
        try {
            return NativeCall.check((long) Read.H.invokeExact(NativeCall.state(), fd, buf, count), "read");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** write(2); returns bytes written. */
    public static long write(int fd, MemorySegment buf, long count) {
        try {
            return NativeCall.check((long) Write.H.invokeExact(NativeCall.state(), fd, buf, count), "write");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /**
     * read(2) returning -1 instead of throwing; the errno is in {@link NativeCall#errno()}. For
     * non-blocking descriptors where EAGAIN/EINTR are normal (TAP devices, eventfds).
     */
    public static long readRaw(int fd, MemorySegment buf, long count) {
        try {
            return (long) Read.H.invokeExact(NativeCall.state(), fd, buf, count);
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** write(2) returning -1 instead of throwing; the errno is in {@link NativeCall#errno()}. */
    public static long writeRaw(int fd, MemorySegment buf, long count) {
        try {
            return (long) Write.H.invokeExact(NativeCall.state(), fd, buf, count);
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static long pread(int fd, MemorySegment buf, long count, long offset) {
        try {
            return NativeCall.check((long) Pread.H.invokeExact(NativeCall.state(), fd, buf, count, offset), "pread");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static long pwrite(int fd, MemorySegment buf, long count, long offset) {
        try {
            return NativeCall.check((long) Pwrite.H.invokeExact(NativeCall.state(), fd, buf, count, offset), "pwrite");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static void fdatasync(int fd) {
        try {
            NativeCall.check((int) Fdatasync.H.invokeExact(NativeCall.state(), fd), "fdatasync");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    public static int getpid() {
        try {
            return (int) Getpid.H.invokeExact();
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class Open {
        static final MethodHandle H = NativeCall.downcallVariadic("open",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 2);
    }

    private static final class Close {
        static final MethodHandle H = NativeCall.downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class IoctlValue {
        static final MethodHandle H = NativeCall.downcallVariadic("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), 2);
    }

    private static final class IoctlPtr {
        static final MethodHandle H = NativeCall.downcallVariadic("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), 2);
    }

    private static final class Mmap {
        static final MethodHandle H = NativeCall.downcall("mmap",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    }

    private static final class Munmap {
        static final MethodHandle H = NativeCall.downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class MemfdCreate {
        static final MethodHandle H = NativeCall.downcall("memfd_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    }

    private static final class Ftruncate {
        static final MethodHandle H = NativeCall.downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    }

    private static final class Eventfd {
        static final MethodHandle H = NativeCall.downcall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    }

    private static final class Read {
        static final MethodHandle H = NativeCall.downcall("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class Write {
        static final MethodHandle H = NativeCall.downcall("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    }

    private static final class Pread {
        static final MethodHandle H = NativeCall.downcall("pread",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }

    private static final class Pwrite {
        static final MethodHandle H = NativeCall.downcall("pwrite",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    }

    private static final class Fdatasync {
        static final MethodHandle H = NativeCall.downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class Getpid {
        static final MethodHandle H = NativeCall.downcallNoErrno("getpid", FunctionDescriptor.of(JAVA_INT));
    }
}
