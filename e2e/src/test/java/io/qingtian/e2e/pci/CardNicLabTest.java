package io.qingtian.e2e.pci;

import static io.qingtian.e2e.Outputs.find;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.lab.LabResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A NIC of the card's own network service on our hypervisor, in the lab: inside L1 the card
 * daemon runs, a VPC, subnet, security group and vNIC are created and the vNIC is exported
 * over vhost-user-net ({@code qt card nic export}); {@code qt hypervisor run --net
 * socket=...,mac=...} boots the stock kernel once, and the guest
 * <ul>
 *   <li>sees a virtio-net NIC with the MAC the control plane assigned,
 *   <li>gets exactly the control plane's address, mask and router by DHCP from the card
 *       (busybox udhcpc, as {@code VpcGuestsTest} does with QEMU guests),
 *   <li>pings the gateway the switch answers for,
 *   <li>fetches its instance id and identity document from the card's metadata responder at
 *       169.254.169.254, which must name this instance, NIC, VPC and tenant;
 * </ul>
 * and afterwards the card's {@code nic stats} show the frames both ways.
 *
 * <p>And the card dying under such a guest ({@link #guestGetsItsNicBackAfterTheCardIsKilledAndRestarted}):
 * the card's network service comes back on its state directory with the VPC, subnet, security
 * group and NIC and serves the NIC's export on the same socket; our hypervisor's front-end
 * reconnects by itself; a network back-end has no inflight tracking, so the device needs a reset
 * and the guest re-probes it (remove + rescan on the PCI bus, as for a disk in
 * {@code CardRestartLabTest}), then gets the same address by DHCP and reaches its gateway and
 * the metadata service again.
 */
@Tag("lab")
class CardNicLabTest {
    static final String MAC = "52:54:00:0a:01:05";
    static final String IP = "10.0.1.5";
    static final String INSTANCE = "i-lab-nic1";

    @TempDir
    Path tmp;

    /** udhcpc's event script: configure the lease and print it. */
    static final String UDHCPC_SCRIPT = """
            #!/bin/sh
            case "$1" in
              bound|renew)
                ifconfig "$interface" "$ip" netmask "$subnet" up
                [ -n "$router" ] && route add default gw "$router"
                echo "L2 lease $ip $subnet $router"
                ;;
            esac
            """;

    static final String INIT = CardLab.L2_PRELUDE + """
            ip link set lo up
            if [ ! -e /sys/class/net/eth0 ]; then echo "L2 no eth0"; dmesg | grep -i -E 'virtio|net|pci' | tail -20; fi
            echo "L2 nic driver=$(basename $(readlink /sys/class/net/eth0/device/driver)) mac=$(cat /sys/class/net/eth0/address)"
            ip link set eth0 up
            udhcpc -i eth0 -n -q -t 20 -T 2 -s /udhcpc.sh || echo "L2 dhcp-failed"
            ping -c 2 -W 3 10.0.1.1 >/dev/null 2>&1 && echo "L2 gateway-ping ok"
            # busybox-static's wget crashes in static glibc's resolver: plain HTTP/1.0 over nc instead.
            get() { printf 'GET %s HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n\\r\\n' "$1" | nc -w 10 169.254.169.254 80; }
            echo "L2 md-id $(get /latest/meta-data/instance-id | tail -n 1)"
            echo "L2 md-doc $(get /latest/dynamic/instance-identity/document | tr -d ' \\r\\n')"
            echo "L2 net tx=$(cat /sys/class/net/eth0/statistics/tx_packets) rx=$(cat /sys/class/net/eth0/statistics/rx_packets)"
            echo "L2 end"
            poweroff -f
            """;

    /** L1: the card with a VPC, a subnet, a security group allowing ICMP, and NIC g1 exported at /tmp/nic.sock. */
    static final String CARD_WITH_NIC = """
            card_up || exit 1
            card vpc create blue --cidr 10.0.0.0/16 --tenant acme
            card subnet create blue-a --vpc blue --cidr 10.0.1.0/24
            card sg create vm
            card sg rule add vm --proto icmp --from 10.0.0.0/16
            card nic create g1 --subnet blue-a --ip %s --mac %s --sg vm --instance %s
            card nic export g1 --vhost-user /tmp/nic.sock
            """.formatted(IP, MAC, INSTANCE);

    static final String SCRIPT = CARD_WITH_NIC + """
            waitsock /tmp/nic.sock || tail -20 /tmp/card.log
            echo "L1 stats-before $(card nic stats g1 | tr '\\n' ' ')"
            hv nic --net socket=/tmp/nic.sock,mac=%s --cmdline "$CMD"
            echo "L1 stats-after $(card nic stats g1 | tr '\\n' ' ')"
            kill $CARD; wait $CARD
            echo "L1 done"
            """.formatted(MAC);

    @Test
    void guestGetsAddressAndMetadataFromTheCardsNetworkService() throws Exception {
        Path initrd = initramfs(INIT);
        LabResult r = CardLab.run(tmp, initrd, SCRIPT, Duration.ofMinutes(10));
        String out = r.stdout();
        assertThat(out).contains("L1 done", "L1 hv-exit nic 0", "L2 nic end");

        assertThat(out).contains("L2 nic nic driver=virtio_net mac=" + MAC);
        assertThat(out).as("the card's DHCP server hands out the control plane's address")
                .contains("L2 nic lease " + IP + " 255.255.255.0 10.0.1.1").doesNotContain("dhcp-failed");
        assertThat(out).contains("L2 nic gateway-ping ok");
        assertThat(find(out, "L2 nic md-id (\\S*)")).isEqualTo(INSTANCE);
        assertThat(find(out, "L2 nic md-doc (.*)"))
                .contains("\"instanceId\":\"" + INSTANCE + "\"", "\"nic\":\"g1\"", "\"tenant\":\"acme\"",
                        "\"vpc\":\"blue\"", "\"subnet\":\"blue-a\"", "\"privateIp\":\"" + IP + "\"",
                        "\"mac\":\"" + MAC + "\"");
        long guestTx = Long.parseLong(find(out, "L2 nic net tx=(\\d+)"));
        long guestRx = Long.parseLong(find(out, "L2 nic net tx=\\d+ rx=(\\d+)"));
        assertThat(guestTx).isPositive();
        assertThat(guestRx).isPositive();

        // The card counted the same traffic: rx = frames the guest sent, tx = frames it received.
        String before = find(out, "L1 stats-before (.*)");
        String after = find(out, "L1 stats-after (.*)");
        assertThat(counter(before, "rx")).isZero();
        assertThat(counter(before, "tx")).isZero();
        // (at least: the guest may send or get a frame after it read its own counters)
        assertThat(counter(after, "rx")).as(after).isGreaterThanOrEqualTo(guestTx);
        assertThat(counter(after, "tx")).as(after).isGreaterThanOrEqualTo(guestRx);
    }

    /** Lease, gateway, metadata; then wait on the console; re-probe the NIC and do it all again. */
    static final String RESTART_INIT = CardLab.L2_PRELUDE + """
            ip link set lo up
            nic() { for d in /sys/class/net/eth*; do [ -e "$d" ] && echo "${d##*/}" && return; done; }
            get() { printf 'GET %s HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n\\r\\n' "$1" | nc -w 10 169.254.169.254 80; }
            online() {
                ip link set $1 up
                udhcpc -i $1 -n -q -t 20 -T 2 -s /udhcpc.sh || echo "L2 dhcp-failed $2"
                ping -c 2 -W 3 10.0.1.1 >/dev/null 2>&1 && echo "L2 gateway-ping $2 ok"
                echo "L2 md-id $2 $(get /latest/meta-data/instance-id | tail -n 1)"
            }
            N=$(nic)
            if [ -z "$N" ]; then echo "L2 no nic"; dmesg | tail -20; poweroff -f; fi
            online $N 1
            # the NIC's device is the virtio device (virtioN); its parent is the PCI function
            BDF=$(basename $(dirname $(readlink -f /sys/class/net/$N/device)))
            echo "L2 ready $BDF"
            read -r GO
            echo "L2 got $GO; re-probing $BDF"
            echo 1 > /sys/bus/pci/devices/$BDF/remove
            [ -e /sys/class/net/$N ] && echo "L2 still there after remove"
            echo 1 > /sys/bus/pci/rescan
            for i in $(seq 1 600); do N=$(nic); [ -n "$N" ] && break; sleep 0.2; done
            echo "L2 back $N driver=$(basename $(readlink /sys/class/net/$N/device/driver)) mac=$(cat /sys/class/net/$N/address)"
            online $N 2
            dmesg | grep -i -E 'virtio|net' | grep -i -E 'error|fail|reset' | sed 's/^/L2 dmesg /'
            echo "L2 end"
            poweroff -f
            """;

    static final String RESTART_SCRIPT = CARD_WITH_NIC + """
            waitsock /tmp/nic.sock || exit 1
            mkfifo /tmp/console-in
            echo "L1 boot nicr"
            qt hypervisor run --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory 256M --timeout 300 \\
                --net socket=/tmp/nic.sock,mac=%s --cmdline "$CMD" < /tmp/console-in > /tmp/nicr.log 2>&1 & H=$!
            exec 3> /tmp/console-in
            for i in $(seq 1 1200); do grep -q '^L2 ready' /tmp/nicr.log && break; kill -0 $H 2>/dev/null || break; sleep 0.2; done
            grep -q '^L2 ready' /tmp/nicr.log || { echo "L1 guest not ready"; tail -40 /tmp/nicr.log; exit 1; }
            echo "L1 stats-before $(card nic stats g1 | tr '\\n' ' ')"
            kill -KILL $CARD; wait $CARD 2>/dev/null
            echo "L1 card killed"
            sleep 1
            kill -0 $H && echo "L1 vm alive without the card"
            card_up || exit 1
            waitsock /tmp/nic.sock
            echo "L1 card back $(card network show | tr '\\n' ' ')"
            for i in $(seq 1 600); do grep -q 'reconnected to the back-end' /tmp/nicr.log && break; sleep 0.2; done
            grep -q 'reconnected to the back-end' /tmp/nicr.log && echo "L1 hypervisor reconnected"
            echo go >&3
            wait $H; echo "L1 hv-exit nicr $?"
            exec 3>&-
            hvlines nicr
            grep -E 'needs a reset|rings resumed|disconnected|reconnected' /tmp/nicr.log | sed 's/^/L1 hv-log /'
            echo "L1 stats-after $(card nic stats g1 | tr '\\n' ' ')"
            kill $CARD; wait $CARD
            echo "L1 done"
            """.formatted(MAC);

    @Test
    void guestGetsItsNicBackAfterTheCardIsKilledAndRestarted() throws Exception {
        Path initrd = initramfs(RESTART_INIT);
        LabResult r = CardLab.run(tmp, initrd, RESTART_SCRIPT, Duration.ofMinutes(12));
        String out = r.stdout();
        assertThat(out).contains("L1 card killed", "L1 vm alive without the card");
        assertThat(out).as("the VM lived through it and powered off normally")
                .contains("L1 hv-exit nicr 0", "L2 nicr end", "L1 done");
        // before: the lease, the gateway, the metadata service
        String lease = "L2 nicr lease " + IP + " 255.255.255.0 10.0.1.1";
        int got = out.indexOf("L2 nicr got go");
        assertThat(got).as("the guest was told to re-probe").isPositive();
        assertThat(out).containsPattern("L2 nicr ready [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]")
                .doesNotContain("still there after remove");
        assertThat(out.indexOf(lease)).isBetween(0, got);
        assertThat(out).contains("L2 nicr gateway-ping 1 ok").doesNotContain("dhcp-failed");
        assertThat(find(out, "L2 nicr md-id 1 (\\S*)")).isEqualTo(INSTANCE);
        // the restarted card serves the NIC from its state directory on the same socket
        assertThat(find(out, "L1 card back (.*)")).contains("nic g1 " + IP + " " + MAC, "nic g1 exported at /tmp/nic.sock");
        assertThat(out).as("our hypervisor's front-end reconnected, and the net device needs a reset (no inflight tracking)")
                .contains("L1 hypervisor reconnected").containsPattern("L1 hv-log .*needs a reset")
                .doesNotContain("rings resumed");
        // after the re-probe: the same NIC, the same lease, the gateway and metadata again
        assertThat(out).containsPattern("L2 nicr back eth\\d+ driver=virtio_net mac=" + MAC);
        assertThat(out.indexOf(lease, got)).as("a second lease after the re-probe").isPositive();
        assertThat(out).contains("L2 nicr gateway-ping 2 ok");
        assertThat(find(out, "L2 nicr md-id 2 (\\S*)")).isEqualTo(INSTANCE);
        assertThat(out).doesNotContain("L2 nicr dmesg");
        // the new card counted the second round's frames (counters start at zero with the card)
        String after = find(out, "L1 stats-after (.*)");
        assertThat(counter(after, "rx")).as(after).isPositive();
        assertThat(counter(after, "tx")).as(after).isPositive();
    }

    /** A packet counter from {@code qt card nic stats}' output ({@code rx (from guest) packets N}). */
    private static long counter(String stats, String name) {
        return Long.parseLong(find(stats, "\\b" + name + " \\(\\w+ guest\\) +packets (\\d+)"));
    }

    /** The L2 initramfs: {@code init}, the DHCP client's script, virtio-pci and virtio-net. */
    private Path initramfs(String init) throws Exception {
        Path initrd = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(init)
                .file("udhcpc.sh", 0755, UDHCPC_SCRIPT.getBytes(StandardCharsets.UTF_8))
                .modules(GuestKernel.stock(), "virtio_pci", "virtio_net")
                .writeTo(initrd);
        return initrd;
    }
}
