package io.qingtian.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class LibcTest {

    @Test
    void memfdMappingIsSharedBetweenTwoMappings() {
        int fd = Libc.memfdCreate("qt-test", Libc.MFD_CLOEXEC);
        try {
            Libc.ftruncate(fd, 8192);
            MemorySegment a = Libc.mmap(8192, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            MemorySegment b = Libc.mmap(4096, Libc.PROT_READ, Libc.MAP_SHARED, fd, 4096);
            a.set(ValueLayout.JAVA_LONG, 4096, 0x1122334455667788L);
            assertThat(b.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0x1122334455667788L);
            assertThat(b.byteSize()).isEqualTo(4096);
            Libc.munmap(a);
            Libc.munmap(b);
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void failedCallNamesTheCallAndErrno() {
        assertThatThrownBy(() -> Libc.open("/nonexistent/qt", Libc.O_RDONLY, 0))
                .isInstanceOf(LinuxException.class)
                .hasMessageContaining("open(/nonexistent/qt)")
                .hasMessageContaining("ENOENT")
                .satisfies(e -> assertThat(((LinuxException) e).errno()).isEqualTo(Errno.ENOENT));
        assertThatThrownBy(() -> Libc.close(-1))
                .isInstanceOf(LinuxException.class)
                .hasMessageContaining("close failed: EBADF");
    }

    @Test
    void ioctlOnNonDeviceFailsWithItsName() {
        int fd = Libc.memfdCreate("qt-ioctl", Libc.MFD_CLOEXEC);
        try {
            assertThatThrownBy(() -> Libc.ioctl(fd, 0xAE00L, 0L, "KVM_GET_API_VERSION"))
                    .isInstanceOf(LinuxException.class)
                    .hasMessageStartingWith("KVM_GET_API_VERSION failed: ");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void eventfdCountsWrites() {
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
            v.set(ValueLayout.JAVA_LONG, 0, 3);
            Libc.write(fd, v, 8);
            Libc.write(fd, v, 8);
            v.set(ValueLayout.JAVA_LONG, 0, 0);
            assertThat(Libc.read(fd, v, 8)).isEqualTo(8);
            assertThat(v.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(6);
            // empty non-blocking eventfd: EAGAIN, reported as such
            assertThatThrownBy(() -> Libc.read(fd, v, 8))
                    .isInstanceOf(LinuxException.class)
                    .satisfies(e -> assertThat(((LinuxException) e).errno()).isEqualTo(Errno.EAGAIN));
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void preadAndPwriteUseTheGivenOffset() throws Exception {
        java.nio.file.Path f = java.nio.file.Files.createTempFile("qt", ".bin");
        int fd = Libc.open(f.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocateFrom("hello");
            Libc.pwrite(fd, buf, 5, 1000);
            Libc.fdatasync(fd);
            MemorySegment back = arena.allocate(5);
            assertThat(Libc.pread(fd, back, 5, 1000)).isEqualTo(5);
            assertThat(new String(back.toArray(ValueLayout.JAVA_BYTE))).isEqualTo("hello");
            assertThat(java.nio.file.Files.size(f)).isEqualTo(1005);
        } finally {
            Libc.close(fd);
            java.nio.file.Files.delete(f);
        }
    }
}
