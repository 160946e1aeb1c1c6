package io.qingtian.e2e.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.e2e.Outputs;
import io.qingtian.e2e.pci.EchoNet;
import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.lab.Lab;
import io.qingtian.lab.LabRequest;
import io.qingtian.lab.LabResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stock-kernel guest with a vhost-user-net NIC, snapshotted and restored on the real KVM
 * inside the nested lab, its back-end moved: the NIC's peer (a vhost-user-net echo, which
 * sends every frame the guest transmits back to it) is stopped after the snapshot and a new one
 * listens on another socket. A load without override is refused (the old socket is gone); a
 * load with Firecracker's {@code network_overrides} naming the new socket restores the guest,
 * which keeps counting and whose next ARP requests go out and come back through the new peer.
 */
@Tag("lab")
class NetSnapshotLabTest {
    static final String MAC = "52:54:00:12:34:57";

    static final String INIT = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            %s
            ip link set eth0 up
            ip addr add 10.0.2.15/24 dev eth0
            net() {
                arping -c 2 -w 3 -I eth0 10.0.2.2 >/dev/null 2>&1
                sleep 1
                echo "L2 net $1 tx=$(cat /sys/class/net/eth0/statistics/tx_packets) rx=$(cat /sys/class/net/eth0/statistics/rx_packets)"
            }
            echo "L2 mac $(cat /sys/class/net/eth0/address)"
            net boot
            i=0
            while true; do
                i=$((i+1)); echo "count $i"
                if read -t 1 cmd; then
                    case "$cmd" in net) net restored;; esac
                fi
            done
            """.formatted(GuestInitramfs.LOAD_MODULES);

    static final String SCRIPT = """
            set -u
            J="java -cp /tmp/tc:/opt/qt/qingtian-cli.jar:/opt/qt/lib/*"
            CMD='console=ttyS0 reboot=k panic=1 quiet i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd'
            waitfor() { n=0; until grep -q "$1" "$2"; do sleep 0.5; n=$((n+1)); [ $n -gt $3 ] && echo "L1 timeout waiting for $1" && return 1; done; }
            waitsock() { for i in $(seq 1 600); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "L1 no socket $1"; return 1; }
            $J io.qingtian.e2e.pci.EchoNet /tmp/net.sock > /tmp/echo1.log 2>&1 & N1=$!
            waitsock /tmp/net.sock
            qt hypervisor run --api-sock /tmp/a.sock --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio \\
                --memory 256M --net socket=/tmp/net.sock,mac=%s --cmdline "$CMD" > /tmp/a.out 2> /tmp/a.err &
            PA=$!
            waitfor '^count 3[^0-9]' /tmp/a.out 400
            qt hypervisor api /tmp/a.sock PATCH /vm '{"state":"Paused"}'
            qt hypervisor api /tmp/a.sock PUT /snapshot/create \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem"}'
            echo "=== snapshot rc=$?"
            kill -9 $PA; wait $PA
            kill $N1; wait $N1
            echo "=== before"; cat /tmp/a.out; echo "=== before-err"; cat /tmp/a.err
            $J io.qingtian.e2e.pci.EchoNet /tmp/net2.sock > /tmp/echo2.log 2>&1 & N2=$!
            waitsock /tmp/net2.sock
            mkfifo /tmp/b.in
            exec 3<>/tmp/b.in
            qt hypervisor run --api-sock /tmp/b.sock < /tmp/b.in > /tmp/b.out 2> /tmp/b.err &
            PB=$!
            n=0; until qt hypervisor api /tmp/b.sock GET / > /dev/null 2>&1; do sleep 0.3; n=$((n+1)); [ $n -gt 100 ] && break; done
            qt hypervisor api /tmp/b.sock PUT /snapshot/load \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem","resume_vm":true}' 2>&1
            echo "=== stale rc=$?"
            qt hypervisor api /tmp/b.sock PUT /snapshot/load \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem","resume_vm":true,"network_overrides":[{"iface_id":"net0","host_dev_name":"/tmp/net2.sock"}]}'
            echo "=== load rc=$?"
            LAST=$(grep -c '^count ' /tmp/a.out)
            waitfor "^count $((LAST+2))[^0-9]" /tmp/b.out 120
            echo net >&3
            waitfor '^L2 net restored ' /tmp/b.out 120
            kill $PB; wait $PB
            kill $N2; wait $N2
            echo "=== after"; cat /tmp/b.out; echo "=== after-err"; cat /tmp/b.err; echo "=== end"
            echo "=== echo1"; cat /tmp/echo1.log; echo "=== echo2"; cat /tmp/echo2.log; echo "=== echo-end"
            echo "L1 done"
            """.formatted(MAC);

    @Test
    void restoredGuestsNicWorksThroughTheBackEndNamedByNetworkOverrides(@TempDir Path tmp) throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initramfs = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(INIT).modules(kernel, "virtio_pci", "virtio_net").writeTo(initramfs);
        Path tc = tmp.resolve("tc");
        copyEchoNet(tc);
        LabResult r = new Lab().run(LabRequest.of("sh", "-c", SCRIPT).withFile(initramfs, "/tmp/l2.cpio").withFile(tc, "/tmp/tc")
                .withTimeout(Duration.ofMinutes(12)));
        String out = r.stdout();
        System.out.println(out);
        System.out.println(r.stderr());
        assertThat(r.timedOut()).as(r.stderr()).isFalse();
        assertThat(out).contains("=== snapshot rc=0").contains("=== load rc=0").contains("L1 done");
        assertThat(out).as("a load naming the old, gone back-end is refused")
                .contains("network interface 'net0'").doesNotContain("=== stale rc=0");
        String before = Outputs.section(out, "=== before\n", "=== before-err");
        String after = SnapshotLabTest.resumedConsole(before, Outputs.section(out, "=== after\n", "=== after-err"));
        assertThat(before).contains("L2 mac " + MAC);
        long txBoot = Long.parseLong(Outputs.find(before, "L2 net boot tx=(\\d+)"));
        long rxBoot = Long.parseLong(Outputs.find(before, "L2 net boot tx=\\d+ rx=(\\d+)"));
        assertThat(rxBoot).as("frames echoed back before the snapshot").isPositive();
        int last = lastCount(before);
        assertThat(after).as("restored guest continues at %d, no reboot", last + 1)
                .containsPattern("(?m)^count " + (last + 1) + "\\r?$").doesNotContainPattern("(?m)^count 1\\r?$")
                .doesNotContain("L2 net boot");
        long tx = Long.parseLong(Outputs.find(after, "L2 net restored tx=(\\d+)"));
        long rx = Long.parseLong(Outputs.find(after, "L2 net restored tx=\\d+ rx=(\\d+)"));
        assertThat(tx).as("the restored NIC transmits").isGreaterThan(txBoot);
        assertThat(rx).as("and receives the echoes").isGreaterThan(rxBoot);
        String echo2 = Outputs.section(out, "=== echo2", "=== echo-end");
        assertThat(Long.parseLong(Outputs.find(echo2, "echo-net: tx=(\\d+)"))).as("the new back-end carried them").isPositive();
        assertThat(Outputs.section(out, "=== after-err", "=== end")).contains("snapshot loaded in");
    }

    /** EchoNet's class files for L1's java. */
    private static void copyEchoNet(Path tc) throws Exception {
        Path classes = Path.of(EchoNet.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path pkg = classes.resolve("io/qingtian/e2e/pci");
        Path dst = Files.createDirectories(tc.resolve("io/qingtian/e2e/pci"));
        try (var files = Files.list(pkg)) {
            for (Path f : files.toList()) {
                if (f.getFileName().toString().startsWith("EchoNet")) {
                    Files.copy(f, dst.resolve(f.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static int lastCount(String text) {
        Matcher m = Pattern.compile("(?m)^count (\\d+)").matcher(text);
        int last = -1;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        return last;
    }
}
