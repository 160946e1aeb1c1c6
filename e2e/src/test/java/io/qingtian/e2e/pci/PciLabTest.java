package io.qingtian.e2e.pci;

import static io.qingtian.e2e.Outputs.find;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.lab.LabResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our hypervisor in the lab (real KVM inside L1) boots the stock Debian kernel with its
 * virtio-pci devices: card-served vhost-user disks, a vhost-user NIC and the in-process
 * virtio-rng. One L1 boot runs several L2 boots in one script (an L1 boot is the expensive
 * part):
 * <ol>
 *   <li>a volume of the card daemon ({@code qt card run}, {@code volume create/export}): write +
 *       sync + checksum, power off, boot again (the card outlives the guest), verify; the
 *       volume's file in L1 agrees;
 *   <li>the same against qemu-storage-daemon (an independent back-end), the verify boot with
 *       {@code pci=nomsi} so the INTx fallback carries the completions;
 *   <li>two vCPUs with a 2-queue disk, a second disk (these on the card's vhost-user-blk
 *       server, all four back-ends in one L1 JVM, {@link LabBackends}), a disk the hypervisor marks read-only
 *       (the guest refuses writes) and a NIC with a MAC given on the command line, whose
 *       frames a vhost-user-net echo peer counts and returns.
 * </ol>
 * Every boot must see entropy from virtio-rng.
 */
@Tag("lab")
class PciLabTest {
    static final String MAC = "52:54:00:12:34:56";

    @TempDir
    Path tmp;

    static final String INIT = CardLab.L2_PRELUDE + """
            S=$(sed -n 's/.*qt.scenario=\\([a-z]*\\).*/\\1/p' /proc/cmdline)
            echo "L2 rng $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | md5sum | cut -c1-8)"
            sum() { dd if=/dev/vda bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1; }
            if [ ! -b /dev/vda ]; then echo "L2 no block device /dev/vda"; dmesg | grep -i -E 'virtio|blk|pci' | tail -20; S=none; fi
            case "$S" in
            write)
                dd if=/dev/urandom of=/dev/vda bs=1M count=4 2>/dev/null
                sync
                echo "L2 sum $(sum)";;
            verify)
                echo "L2 sum $(sum)";;
            multi)
                for d in /sys/block/vd*; do
                    n=${d##*/}
                    echo "L2 disk $n ro=$(cat $d/ro) queues=$(ls $d/mq | wc -l) size=$(cat $d/size)"
                    if [ "$(cat $d/ro)" = 1 ]; then
                        if dd if=/dev/zero of=/dev/$n bs=4096 count=1 2>/dev/null; then echo "L2 rowrite accepted"; else echo "L2 rowrite refused"; fi
                    fi
                done
                dd if=/dev/urandom of=/dev/vdb bs=64k count=16 2>/dev/null && sync && echo "L2 vdb written"
                ip link set eth0 up
                echo "L2 mac $(cat /sys/class/net/eth0/address)"
                ip addr add 10.0.2.15/24 dev eth0
                arping -c 3 -w 3 -I eth0 10.0.2.2 >/dev/null 2>&1
                sleep 1
                echo "L2 net tx=$(cat /sys/class/net/eth0/statistics/tx_packets) rx=$(cat /sys/class/net/eth0/statistics/rx_packets)";;
            esac
            echo "L2 end"
            poweroff -f
            """;

    static final String SCRIPT = """
            J="java -cp /tmp/tc:/opt/qt/qingtian-cli.jar:/opt/qt/lib/*"
            for f in card qsd mq b c; do dd if=/dev/zero of=/tmp/$f.img bs=1M count=32 2>/dev/null; done

            # 1. the card daemon: a volume exported over vhost-user; the guest reboots, the card stays
            card_up
            card volume create data --size 32M
            card volume export data --vhost-user /tmp/card.sock
            waitsock /tmp/card.sock || tail -20 /tmp/card.log
            hv card-write --disk socket=/tmp/card.sock --cmdline "$CMD qt.scenario=write"
            hv card-verify --disk socket=/tmp/card.sock --cmdline "$CMD qt.scenario=verify"
            kill $CARD; wait $CARD
            filesum card /tmp/card/volumes/data.img

            # 2. qemu-storage-daemon, the verify boot on INTx (pci=nomsi)
            if [ -x /tmp/qsd/qemu-storage-daemon ]; then
                /tmp/qsd/lib/ld-linux-x86-64.so.2 --library-path /tmp/qsd/lib /tmp/qsd/qemu-storage-daemon \\
                    --blockdev driver=file,node-name=f0,filename=/tmp/qsd.img --blockdev driver=raw,node-name=d0,file=f0 \\
                    --export type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=/tmp/qsd.sock,writable=on,num-queues=1 & Q=$!
                waitsock /tmp/qsd.sock
                hv qsd-write --disk socket=/tmp/qsd.sock --cmdline "$CMD qt.scenario=write"
                kill $Q; wait $Q
                rm -f /tmp/qsd.sock
                /tmp/qsd/lib/ld-linux-x86-64.so.2 --library-path /tmp/qsd/lib /tmp/qsd/qemu-storage-daemon \\
                    --blockdev driver=file,node-name=f0,filename=/tmp/qsd.img --blockdev driver=raw,node-name=d0,file=f0 \\
                    --export type=vhost-user-blk,id=e0,node-name=d0,addr.type=unix,addr.path=/tmp/qsd.sock,writable=on,num-queues=1 & Q=$!
                waitsock /tmp/qsd.sock
                hv qsd-verify --disk socket=/tmp/qsd.sock --cmdline "$CMD pci=nomsi qt.scenario=verify"
                kill $Q; wait $Q
                filesum qsd /tmp/qsd.img
            else
                echo "L1 no-qsd"
            fi

            # 3. two vCPUs: 2-queue disk, second disk, read-only disk, NIC
            $J io.qingtian.e2e.pci.LabBackends disk /tmp/mq.img /tmp/mq.sock 2 disk /tmp/b.img /tmp/b.sock 1 \\
                disk /tmp/c.img /tmp/c.sock 1 net /tmp/net.sock & B=$!
            for s in mq b c net; do waitsock /tmp/$s.sock; done
            hv multi --cpus 2 --disk socket=/tmp/mq.sock,queues=2 --disk socket=/tmp/b.sock \\
                --disk socket=/tmp/c.sock,readonly --net socket=/tmp/net.sock,mac=%s --cmdline "$CMD qt.scenario=multi"
            kill $B; wait $B
            echo "L1 done"
            """.formatted(MAC);

    @Test
    void stockKernelUsesCardDisksNicAndEntropyOverVirtioPci() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(INIT)
                .modules(kernel, "virtio_pci", "virtio_blk", "virtio_net", "virtio-rng")
                .writeTo(initrd);
        Path tc = tmp.resolve("tc");
        copyHelpers(tc);
        Path qsd = qsdBundle();
        LabResult r = CardLab.run(tmp, initrd, SCRIPT, Duration.ofMinutes(15),
                req -> qsd == null ? req.withFile(tc, "/tmp/tc") : req.withFile(tc, "/tmp/tc").withFile(qsd, "/tmp/qsd"));
        String out = r.stdout();
        assertThat(out).contains("L1 done");

        // every boot powered off cleanly and saw entropy from virtio-rng
        List<String> boots = qsd != null
                ? List.of("card-write", "card-verify", "qsd-write", "qsd-verify", "multi")
                : List.of("card-write", "card-verify", "multi");
        for (String b : boots) {
            assertThat(out).contains("L1 hv-exit " + b + " 0");
            assertThat(out).containsPattern("L2 " + b + " rng virtio_rng\\.0 [0-9a-f]{8}");
            assertThat(out).contains("L2 " + b + " end");
        }

        // 1. data written through the card survives a guest reboot and is in the file
        String written = find(out, "L2 card-write sum (\\w+)");
        assertThat(written).isNotEqualTo("b5cfa9d6c8febd618f91ac2843d50a1c"); // md5 of 4 MiB of zeros
        assertThat(find(out, "L2 card-verify sum (\\w+)")).isEqualTo(written);
        assertThat(find(out, "L1 filesum card (\\w+)")).isEqualTo(written);

        // 2. the same against qemu-storage-daemon, read back over INTx
        if (qsd != null) {
            String q = find(out, "L2 qsd-write sum (\\w+)");
            assertThat(q).isNotEqualTo(written);
            assertThat(find(out, "L2 qsd-verify sum (\\w+)")).isEqualTo(q);
            assertThat(find(out, "L1 filesum qsd (\\w+)")).isEqualTo(q);
        } else {
            System.err.println("qemu-storage-daemon not installed on the host: that back-end was skipped");
        }

        // 3. two disks, multi-queue, read-only, NIC
        assertThat(out).containsPattern("L2 multi disk vd\\w ro=0 queues=2 size=65536");
        assertThat(out).containsPattern("L2 multi disk vd\\w ro=0 queues=1 size=65536");
        assertThat(out).containsPattern("L2 multi disk vd\\w ro=1 queues=1 size=65536");
        assertThat(out).contains("L2 multi rowrite refused").doesNotContain("rowrite accepted");
        assertThat(out).contains("L2 multi vdb written");
        assertThat(out).contains("L2 multi mac " + MAC);
        long tx = Long.parseLong(find(out, "L2 multi net tx=(\\d+)"));
        long rx = Long.parseLong(find(out, "L2 multi net tx=\\d+ rx=(\\d+)"));
        assertThat(tx).as("frames the guest sent").isPositive();
        assertThat(rx).as("frames echoed back into the guest").isPositive();
        assertThat(Long.parseLong(find(out, "echo-net: tx=(\\d+)"))).isPositive();
    }

    /** The helper mains (card disk server, echo NIC) and the file disk they serve as class files for L1's java. */
    private static void copyHelpers(Path tc) throws Exception {
        Path classes = Path.of(DiskServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String disk = io.qingtian.e2e.RawFileDisk.class.getName().replace('.', '/') + ".class";
        Files.copy(classes.resolve(disk), Files.createDirectories(tc.resolve(disk).getParent()).resolve("RawFileDisk.class"),
                StandardCopyOption.REPLACE_EXISTING);
        Path pkg = classes.resolve("io/qingtian/e2e/pci");
        Path dst = Files.createDirectories(tc.resolve("io/qingtian/e2e/pci"));
        try (var files = Files.list(pkg)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (n.startsWith("DiskServer") || n.startsWith("EchoNet") || n.startsWith("LabBackends")) {
                    Files.copy(f, dst.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /** qemu-storage-daemon with the libraries it links (ldd), or null when it is not installed. */
    private Path qsdBundle() throws IOException, InterruptedException {
        Path bin = Path.of("/usr/bin/qemu-storage-daemon");
        if (!Files.isExecutable(bin)) {
            return null;
        }
        Path dir = Files.createDirectories(tmp.resolve("qsd/lib"));
        Files.copy(bin, tmp.resolve("qsd/qemu-storage-daemon"));
        Process p = new ProcessBuilder("ldd", bin.toString()).redirectErrorStream(true).start();
        String ldd = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            return null;
        }
        Matcher m = Pattern.compile("(/\\S+)").matcher(ldd);
        while (m.find()) {
            Path lib = Path.of(m.group(1));
            Files.copy(lib.toRealPath(), dir.resolve(lib.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp.resolve("qsd");
    }
}
