package io.qingtian.e2e.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest inputs other tests use (the cached stock kernel and an initramfs built by
 * {@link GuestInitramfs}) boot for real: QEMU TCG on the host, no KVM needed.
 */
@Tag("qemu")
class GuestInitramfsBootTest {
    @TempDir
    Path tmp;

    @Test
    void stockKernelRunsOurInitLoadsModulesInOrderAndSeesOurFiles() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit("#!/bin/sh\n"
                        + "mount -t proc proc /proc\nmount -t sysfs sysfs /sys\n"
                        + GuestInitramfs.LOAD_MODULES
                        + "test -d /sys/module/virtio_blk && echo virtio_blk-loaded\n"
                        + "cat /etc/greeting\n"
                        + "poweroff -f\n")
                .file("etc/greeting", 0644, "hello-from-the-initramfs\n".getBytes(StandardCharsets.UTF_8))
                .modules(kernel, "virtio_blk")
                .writeTo(initrd);
        Process p = new ProcessBuilder(List.of("qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-m", "256",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
                "-kernel", kernel.bzImage().toString(), "-initrd", initrd.toString(),
                "-append", "console=ttyS0 quiet panic=-1"))
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        try {
            StringBuilder out = new StringBuilder();
            Thread reader = Thread.ofVirtual().start(() -> {
                try {
                    out.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (java.io.IOException ignored) {
                    // the assertion below reports what arrived
                }
            });
            assertThat(p.waitFor(180, TimeUnit.SECONDS)).as("guest powered off").isTrue();
            reader.join(5000);
            assertThat(out.toString()).contains("virtio_blk-loaded", "hello-from-the-initramfs");
        } finally {
            p.destroyForcibly();
        }
    }
}
