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
 * QEMU (TCG, stock Debian kernel, shared memfd RAM) as the vhost-user-blk front-end of volumes
 * the card exports: two disks, one with two queues, one encrypted. The guest writes random data
 * and syncs; the card is killed with -9; after a restart (the card restores its exports) a fresh boot of the guest
 * reads the same bytes back.
 */
@Tag("qemu")
class CardGuestTest {
    static final Pattern HASH = Pattern.compile("(WROTE|READ) (vd[a-z]) ([0-9a-f]{64})");

    @TempDir
    Path tmp;

    static final String LOAD = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            """ + io.qingtian.lab.GuestInitramfs.LOAD_MODULES + """
            n=0; while [ ! -b /dev/vdb ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
            for d in vda vdb; do echo "DISK $d $(cat /sys/block/$d/size) $(cat /sys/block/$d/serial 2>/dev/null)"; done
            """;

    static final String WRITE = LOAD + """
            for d in vda vdb; do
              dd if=/dev/urandom of=/tmp/$d bs=64k count=32 2>/dev/null
              dd if=/tmp/$d of=/dev/$d bs=64k seek=16 conv=fsync 2>/dev/null || echo "DDFAIL $d"
              echo "WROTE $d $(sha256sum /tmp/$d | cut -d' ' -f1)"
            done
            sync
            echo GUEST-SYNCED
            sleep 600
            """;

    static final String READ = LOAD + """
            for d in vda vdb; do
              echo "READ $d $(dd if=/dev/$d bs=64k skip=16 count=32 2>/dev/null | sha256sum | cut -d' ' -f1)"
            done
            echo GUEST-DONE
            poweroff -f
            """;

    static List<String> disks(Path plainSock, Path secretSock) {
        return List.of("-chardev", "socket,id=c0,path=" + plainSock, "-device", "vhost-user-blk-pci,chardev=c0,num-queues=2",
                "-chardev", "socket,id=c1,path=" + secretSock, "-device", "vhost-user-blk-pci,chardev=c1,num-queues=1");
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
        Path writeInit = TcgGuest.initramfs(tmp, "write", WRITE, kernel, modules, List.of());
        Path readInit = TcgGuest.initramfs(tmp, "read", READ, kernel, modules, List.of());
        Path state = tmp.resolve("state");
        String st = state.toString();
        Path s1 = tmp.resolve("plain.sock");
        Path s2 = tmp.resolve("secret.sock");

        List<String> written;
        try (CardProcess card = CardProcess.start(state)) {
            Qt.ok("card", "volume", "create", "plain", "--size", "64M", "--state", st);
            Qt.ok("card", "volume", "create", "secret", "--size", "32M", "--encrypt", "--state", st);
            Qt.ok("card", "volume", "export", "plain", "--vhost-user", s1.toString(), "--queues", "2", "--state", st);
            Qt.ok("card", "volume", "export", "secret", "--vhost-user", s2.toString(), "--state", st);
            assertThat(Qt.ok("card", "volume", "list", "--state", st)).contains(s1.toString()).contains(s2.toString());
            try (TcgGuest guest = TcgGuest.boot(tmp, "write", kernel, writeInit, disks(s1, s2))) {
                String console = guest.await("GUEST-SYNCED", 240);
                assertThat(console).contains("DISK vda 131072").contains("DISK vdb 65536").doesNotContain("DDFAIL");
                written = hashes(console);
                assertThat(written).hasSize(2);
                card.kill9(); // the guest synced: every acknowledged flush must be on disk
            }
        }
        try (CardProcess card = CardProcess.start(state)) {
            // The card remembers its exports (exports.json) and serves them again after the crash.
            assertThat(Qt.ok("card", "volume", "list", "--state", st)).contains(s1.toString()).contains(s2.toString());
            try (TcgGuest guest = TcgGuest.boot(tmp, "read", kernel, readInit, disks(s1, s2))) {
                String console = guest.await("GUEST-DONE", 240);
                assertThat(hashes(console)).containsExactlyElementsOf(written);
                guest.awaitExit(60);
            }
            assertThat(card.terminate()).isEqualTo(143);
        }
    }
}
