package io.qingtian.e2e.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * QEMU (TCG) booting the stock Debian kernel is the vhost-user front-end of our
 * VhostUserBlkServer: the guest's own virtio_blk driver writes, flushes and reads a two-queue
 * disk and reads a read-only one, and the host checks the bytes that landed in the files.
 */
@Tag("qemu")
@Timeout(240)
class VhostUserBlkGuestTest {
    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    private static final String INIT = io.qingtian.e2e.GuestInit.PRELUDE + """
            waitblk vda vdb
            echo "QT-DISKS $(cat /sys/block/vda/serial) $(cat /sys/block/vda/size) $(ls /sys/block/vda/mq | wc -l) $(cat /sys/block/vdb/serial) $(cat /sys/block/vdb/ro)"
            dd if=/dev/urandom of=/tmp/p bs=4096 count=256 2>/dev/null
            dd if=/tmp/p of=/dev/vda bs=65536 seek=16 conv=fsync 2>/dev/null && echo QT-WRITE-OK
            echo 3 > /proc/sys/vm/drop_caches
            W=$(md5sum < /tmp/p)
            R=$(dd if=/dev/vda bs=65536 skip=16 count=16 2>/dev/null | md5sum)
            echo "QT-RESULT ${W%% *} ${R%% *}"
            V=$(dd if=/dev/vdb bs=65536 count=16 2>/dev/null | md5sum)
            echo "QT-RO-READ ${V%% *}"
            if dd if=/tmp/p of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null; then echo QT-RO-WRITE-ACCEPTED; else echo QT-RO-WRITE-REFUSED; fi
            poweroff -f
            """;

    private static String md5(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
    }

    @Test
    void stockKernelWritesAndReadsThroughOurBackend() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = dir.resolve("initrd.cpio");
        GuestInitramfs.withInit(INIT).modules(kernel, "virtio_pci", "virtio_blk").writeTo(initrd);

        Path rw = dir.resolve("rw.img");
        Path ro = dir.resolve("ro.img");
        byte[] roContent = new byte[1 << 20];
        new Random(11).nextBytes(roContent);
        Files.write(ro, roContent);
        try (VhostUserFileDisk rwDisk = new VhostUserFileDisk(rw, SIZE, "qt-rw");
             VhostUserFileDisk roDisk = new VhostUserFileDisk(ro, SIZE, "qt-ro");
             VhostUserBlkServer rwServer = VhostUserBlkServer.start(dir.resolve("rw.sock"), rwDisk, 2, false);
             VhostUserBlkServer roServer = VhostUserBlkServer.start(dir.resolve("ro.sock"), roDisk, 1, true)) {
            Path console = dir.resolve("console.log");
            Process qemu = new ProcessBuilder(List.of("qemu-system-x86_64",
                    "-M", "q35,memory-backend=mem", "-accel", "tcg,thread=multi", "-smp", "2", "-m", "256M",
                    "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                    "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
                    "-kernel", kernel.bzImage().toString(), "-initrd", initrd.toString(),
                    "-append", "console=ttyS0 quiet",
                    "-chardev", "socket,id=c0,path=" + rwServer.socket(),
                    "-device", "vhost-user-blk-pci,chardev=c0,num-queues=2,addr=0x4",
                    "-chardev", "socket,id=c1,path=" + roServer.socket(),
                    "-device", "vhost-user-blk-pci,chardev=c1,num-queues=1,addr=0x5"))
                    .redirectErrorStream(true).redirectOutput(console.toFile()).start();
            try {
                assertThat(qemu.waitFor(200, TimeUnit.SECONDS)).as("guest powered off").isTrue();
            } finally {
                qemu.destroyForcibly();
            }
            String out = Files.readString(console);
            Matcher disks = Pattern.compile("QT-DISKS (\\S+) (\\d+) (\\d+) (\\S+) (\\d)").matcher(out);
            assertThat(disks.find()).as("console: %s", out).isTrue();
            assertThat(disks.group(1)).isEqualTo("qt-rw");                      // GET_ID
            assertThat(Long.parseLong(disks.group(2))).isEqualTo(SIZE / 512);   // config capacity
            assertThat(disks.group(3)).isEqualTo("2");                          // two queues in use
            assertThat(disks.group(4)).isEqualTo("qt-ro");
            assertThat(disks.group(5)).isEqualTo("1");                          // VIRTIO_BLK_F_RO
            assertThat(out).contains("QT-WRITE-OK");
            Matcher result = Pattern.compile("QT-RESULT (\\w+) (\\w+)").matcher(out);
            assertThat(result.find()).as("console: %s", out).isTrue();
            assertThat(result.group(2)).isEqualTo(result.group(1));
            byte[] written = new byte[1 << 20];
            System.arraycopy(Files.readAllBytes(rw), 16 * 65536, written, 0, written.length);
            assertThat(md5(written)).as("bytes on the host file").isEqualTo(result.group(1));
            Matcher roRead = Pattern.compile("QT-RO-READ (\\w+)").matcher(out);
            assertThat(roRead.find()).isTrue();
            assertThat(roRead.group(1)).isEqualTo(md5(roContent));
            assertThat(out).contains("QT-RO-WRITE-REFUSED");
            assertThat(rwServer.stats().writes()).isPositive();
            assertThat(rwServer.stats().flushes()).isPositive();
            assertThat(roServer.stats().writes()).isZero();
            assertThat(Files.readAllBytes(ro)).startsWith(roContent);
        }
    }
}
