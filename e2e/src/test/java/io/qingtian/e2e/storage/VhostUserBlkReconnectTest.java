package io.qingtian.e2e.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The back-end goes away under a running guest and a new one takes over the socket: QEMU
 * (chardev reconnect=1) reconnects, renegotiates with the fresh back-end, and the guest's
 * disk keeps working with its data intact — what a card restart looks like to a VM.
 */
@Tag("qemu")
@Timeout(240)
class VhostUserBlkReconnectTest {
    @TempDir
    Path dir;

    private static final String INIT = io.qingtian.e2e.GuestInit.PRELUDE + """
            waitblk vda
            dd if=/dev/urandom of=/tmp/p bs=4096 count=16 2>/dev/null
            W=$(md5sum < /tmp/p)
            for n in 1 2 3 4 5 6 7 8 9 10; do
              dd if=/tmp/p of=/dev/vda bs=65536 seek=$n conv=fsync 2>/dev/null
              echo 3 > /proc/sys/vm/drop_caches
              R=$(dd if=/dev/vda bs=65536 skip=1 count=1 2>/dev/null | md5sum)
              [ "${R%% *}" = "${W%% *}" ] && echo "QT-ITER $n ok" || echo "QT-ITER $n BAD"
              sleep 0.5
            done
            poweroff -f
            """;

    @Test
    void guestSurvivesBackendRestart() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = dir.resolve("initrd.cpio");
        GuestInitramfs.withInit(INIT).modules(kernel, "virtio_pci", "virtio_blk").writeTo(initrd);
        Path sock = dir.resolve("blk.sock");
        Path console = dir.resolve("console.log");
        try (VhostUserFileDisk disk = new VhostUserFileDisk(dir.resolve("disk.img"), 16L << 20, "qt-reconnect")) {
            VhostUserBlkServer first = VhostUserBlkServer.start(sock, disk, 1, false);
            Process qemu = new ProcessBuilder(List.of("qemu-system-x86_64",
                    "-M", "q35,memory-backend=mem", "-accel", "tcg", "-m", "256M",
                    "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                    "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
                    "-kernel", kernel.bzImage().toString(), "-initrd", initrd.toString(),
                    "-append", "console=ttyS0 quiet",
                    "-chardev", "socket,id=c0,path=" + sock + ",reconnect=1",
                    "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1"))
                    .redirectErrorStream(true).redirectOutput(console.toFile()).start();
            VhostUserBlkServer second = null;
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
                while (!Files.readString(console).contains("QT-ITER 3 ") && qemu.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                assertThat(Files.readString(console)).contains("QT-ITER 3 ok");
                first.close();
                assertThat(first.stats().writes()).isPositive();
                second = VhostUserBlkServer.start(sock, disk, 1, false);
                assertThat(qemu.waitFor(180, TimeUnit.SECONDS)).as("guest powered off").isTrue();
                String out = Files.readString(console);
                for (int n = 1; n <= 10; n++) {
                    assertThat(out).as("console: %s", out).contains("QT-ITER " + n + " ok");
                }
                assertThat(out).doesNotContain("BAD");
                assertThat(second.stats().writes()).as("the new back-end served the guest").isPositive();
            } finally {
                qemu.destroyForcibly();
                first.close();
                if (second != null) {
                    second.close();
                }
            }
        }
    }
}
