package io.qingtian.vhostuser.blk;

import static io.qingtian.virtio.blk.VirtioBlk.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver.Options;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our front-end harness against qemu-storage-daemon's vhost-user-blk export: proves the
 * harness (and so the codec both sides share) speaks real vhost-user, not just to itself.
 */
@Tag("qemu")
@Timeout(120) // a hang fails; a slow machine does not
class QemuStorageDaemonInteropTest {
    @TempDir
    Path dir;

    @Test
    void harnessDrivesQemuStorageDaemon() throws Exception {
        Path disk = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(8L << 20);
        }
        Path sock = dir.resolve("qsd.sock");
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(disk, sock, 2, true);
             VirtioBlkDriver d = VirtioBlkDriver.connect(sock, Options.defaults().withQueues(2))) {
            assertThat(d.config().capacitySectors()).isEqualTo((8L << 20) / 512);
            assertThat(d.config().numQueues()).isEqualTo(2);
            byte[] data = new byte[65536];
            new Random(7).nextBytes(data);
            assertThat(d.write(1, 64, data)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(d.flush(1)).isEqualTo(VIRTIO_BLK_S_OK);
            byte[] back = new byte[65536];
            assertThat(d.read(0, 64, back)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(back).isEqualTo(data);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(disk), 64 * 512, 64 * 512 + 65536)).isEqualTo(data);
            assertThat(d.writeZeroes(0, 64, 16, false)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(d.read(0, 64, back)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(Arrays.copyOfRange(back, 0, 8192)).containsOnly((byte) 0);
            assertThat(d.read(0, (8L << 20) / 512, new byte[512])).isEqualTo(VIRTIO_BLK_S_IOERR);
            assertThat(d.getVringBaseAfterIdle(0)).isEqualTo(d.availIdx(0));
        }
    }

    @Test
    void indirectDescriptorsAgainstQemuStorageDaemon() throws Exception {
        Path disk = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(4L << 20);
        }
        Path sock = dir.resolve("qsd.sock");
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(disk, sock, 1, true);
             VirtioBlkDriver d = VirtioBlkDriver.connect(sock, Options.defaults().withIndirect(true).withEventIdx(false))) {
            byte[] data = new byte[4096];
            new Random(8).nextBytes(data);
            for (int i = 0; i < 50; i++) {
                assertThat(d.write(0, 8L * i, data)).isEqualTo(VIRTIO_BLK_S_OK);
            }
            byte[] back = new byte[4096];
            assertThat(d.read(0, 8L * 49, back)).isEqualTo(VIRTIO_BLK_S_OK);
            assertThat(back).isEqualTo(data);
        }
    }
}
