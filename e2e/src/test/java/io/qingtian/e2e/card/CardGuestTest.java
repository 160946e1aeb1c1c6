package io.qingtian.e2e.card;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestKernel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QEMU (TCG, stock Debian kernel, shared memfd RAM) as the vhost-user-blk front-end of three
 * volumes the card exports: a local one with two queues (ext4, made by mkfs.ext4 in the guest),
 * an encrypted one (raw data) and a remote one on an NBD server (qemu-nbd, two queues, raw data).
 * The guest writes files and random data and syncs; the card is killed with -9; after a restart
 * (the card restores its exports) a fresh boot of the guest reads the same bytes back.
 */
@Tag("qemu")
class CardGuestTest {
    static final Pattern HASH = Pattern.compile("(WROTE|READ) (vd[a-z]) ([0-9a-f]{64})");

    @TempDir
    Path tmp;

    static final String LOAD = io.qingtian.e2e.GuestInit.PRELUDE + """
            waitblk vda vdb vdc
            for d in vda vdb vdc; do echo "DISK $d $(cat /sys/block/$d/size) $(cat /sys/block/$d/serial 2>/dev/null)"; done
            """;

    /** vda (plain, two queues): a fresh ext4 with two files; vdb (encrypted): raw random data. */
    static final String WRITE = LOAD + """
            mkfs.ext4 -F -q /dev/vda || echo MKFS-FAILED
            mount -t ext4 /dev/vda /mnt || echo MOUNT-FAILED
            dd if=/dev/urandom of=/mnt/one bs=64k count=40 2>/dev/null
            dd if=/dev/urandom of=/mnt/two bs=4k count=77 2>/dev/null
            echo "WROTE vda $(cat /mnt/one /mnt/two | sha256sum | cut -d' ' -f1)"
            for d in vdb vdc; do
              dd if=/dev/urandom of=/tmp/$d bs=64k count=32 2>/dev/null
              dd if=/tmp/$d of=/dev/$d bs=64k seek=16 conv=fsync 2>/dev/null || echo "DDFAIL $d"
              echo "WROTE $d $(sha256sum /tmp/$d | cut -d' ' -f1)"
            done
            sync
            echo GUEST-SYNCED
            sleep 600
            """;

    static final String READ = LOAD + """
            mount -t ext4 /dev/vda /mnt || echo MOUNT-FAILED
            echo "READ vda $(cat /mnt/one /mnt/two | sha256sum | cut -d' ' -f1)"
            umount /mnt
            for d in vdb vdc; do
              echo "READ $d $(dd if=/dev/$d bs=64k skip=16 count=32 2>/dev/null | sha256sum | cut -d' ' -f1)"
            done
            echo GUEST-DONE
            poweroff -f
            """;

    /** mkfs.ext4 from the host (e2fsprogs) with its libraries; the kernel has ext4 built in. */
    static List<Path[]> mkfsFiles() throws Exception {
        Path mke2fs = Path.of("/usr/sbin/mke2fs");
        List<Path[]> files = new ArrayList<>();
        files.add(new Path[] {Path.of("usr/sbin/mkfs.ext4"), mke2fs});
        for (Path lib : DmCryptOracleTest.libraries(mke2fs)) {
            files.add(new Path[] {Path.of("/").relativize(lib), lib});
        }
        if (java.nio.file.Files.exists(Path.of("/etc/mke2fs.conf"))) {
            files.add(new Path[] {Path.of("etc/mke2fs.conf"), Path.of("/etc/mke2fs.conf")});
        }
        return files;
    }

    static List<String> disks(Path plainSock, Path secretSock, Path remoteSock) {
        return List.of("-chardev", "socket,id=c0,path=" + plainSock, "-device", "vhost-user-blk-pci,chardev=c0,num-queues=2",
                "-chardev", "socket,id=c1,path=" + secretSock, "-device", "vhost-user-blk-pci,chardev=c1,num-queues=1",
                "-chardev", "socket,id=c2,path=" + remoteSock, "-device", "vhost-user-blk-pci,chardev=c2,num-queues=2");
    }

    record Nbd(Process process, int port) {}

    /**
     * qemu-nbd serving a raw file on a free loopback port, outliving the card's crash. The port
     * is found free by binding and closing it, so another process may take it first: then
     * qemu-nbd exits and another port is tried.
     */
    static Nbd qemuNbd(Path file, String export) throws Exception {
        AssertionError last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port;
            try (java.net.ServerSocket ss = new java.net.ServerSocket(0)) {
                port = ss.getLocalPort();
            }
            Process p = new ProcessBuilder("qemu-nbd", "-f", "raw", "-x", export, "-b", "127.0.0.1", "-p", Integer.toString(port),
                    "-e", "8", "-t", file.toString()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            try {
                io.qingtian.e2e.Await.until("qemu-nbd listening on " + port, java.time.Duration.ofSeconds(60), () -> {
                    if (!p.isAlive()) {
                        throw new AssertionError("qemu-nbd exited (port " + port + " taken?)");
                    }
                    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                        return true;
                    } catch (java.io.IOException e) {
                        return false;
                    }
                }, up -> up);
                return new Nbd(p, port);
            } catch (AssertionError e) {
                p.destroyForcibly().waitFor();
                last = e;
            }
        }
        throw last;
    }

    static List<String> hashes(String console) {
        List<String> out = new ArrayList<>();
        Matcher m = HASH.matcher(console);
        while (m.find()) {
            out.add(m.group(2) + "=" + m.group(3));
        }
        return out;
    }

    @Test
    void guestDataSurvivesKill9OfTheCardAfterSync() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        List<String> modules = List.of("virtio_pci", "virtio_blk");
        Path writeInit = TcgGuest.initramfs(tmp, "write", WRITE, kernel, modules, mkfsFiles());
        Path readInit = TcgGuest.initramfs(tmp, "read", READ, kernel, modules, List.of());
        Path state = tmp.resolve("state");
        String st = state.toString();
        Path s1 = tmp.resolve("plain.sock");
        Path s2 = tmp.resolve("secret.sock");
        Path s3 = tmp.resolve("remote.sock");
        Path remoteImg = tmp.resolve("remote.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(remoteImg.toFile(), "rw")) {
            f.setLength(16L << 20);
        }
        Nbd server = qemuNbd(remoteImg, "remote");
        int port = server.port();
        Process nbd = server.process();
        try {
            List<String> written;
            try (CardProcess card = CardProcess.start(state)) {
                Qt.ok("card", "volume", "create", "plain", "--size", "64M", "--state", st);
                Qt.ok("card", "volume", "create", "secret", "--size", "32M", "--encrypt", "--state", st);
                Qt.ok("card", "volume", "export", "plain", "--vhost-user", s1.toString(), "--queues", "2", "--state", st);
                Qt.ok("card", "volume", "export", "secret", "--vhost-user", s2.toString(), "--state", st);
                Qt.ok("card", "volume", "create", "remote", "--nbd", "127.0.0.1:" + port + "/remote", "--state", st);
                Qt.ok("card", "volume", "export", "remote", "--vhost-user", s3.toString(), "--queues", "2", "--state", st);
                assertThat(Qt.ok("card", "volume", "list", "--state", st)).contains(s1.toString()).contains(s2.toString())
                        .contains(s3.toString()).contains("nbd:127.0.0.1:" + port + "/remote");
                try (TcgGuest guest = TcgGuest.boot(tmp, "write", kernel, writeInit, disks(s1, s2, s3))) {
                    String console = guest.await("GUEST-SYNCED", 240);
                    assertThat(console).contains("DISK vda 131072").contains("DISK vdb 65536").contains("DISK vdc 32768")
                            .doesNotContain("DDFAIL").doesNotContain("MKFS-FAILED").doesNotContain("MOUNT-FAILED");
                    written = hashes(console);
                    assertThat(written).hasSize(3);
                    card.kill9(); // the guest synced: every acknowledged flush must be on disk
                }
            }
            try (CardProcess card = CardProcess.start(state)) {
                // The card remembers its exports (exports.json) and serves them again after the crash.
                assertThat(Qt.ok("card", "volume", "list", "--state", st)).contains(s1.toString()).contains(s2.toString())
                        .contains(s3.toString());
                try (TcgGuest guest = TcgGuest.boot(tmp, "read", kernel, readInit, disks(s1, s2, s3))) {
                    String console = guest.await("GUEST-DONE", 240);
                    assertThat(hashes(console)).containsExactlyElementsOf(written);
                    guest.awaitExit(60);
                }
                assertThat(card.terminate()).isEqualTo(143);
            }
        } finally {
            nbd.destroy();
            nbd.waitFor();
        }
    }
}
