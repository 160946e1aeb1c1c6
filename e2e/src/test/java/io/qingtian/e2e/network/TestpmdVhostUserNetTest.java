package io.qingtian.e2e.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.vhostuser.VhostUserNetServer;
import io.qingtian.network.vswitch.PortStats;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DPDK testpmd's virtio-user PMD as a real vhost-user-net front-end on two exported ports:
 * txonly on one, rxonly on the other, through the switch (security group, conntrack,
 * counters); then the same generator with a forged source address, which must be dropped.
 */
@Tag("qemu")
class TestpmdVhostUserNetTest {
    static final Path TESTPMD = Path.of("/usr/bin/dpdk-testpmd");

    @TempDir
    Path tmp;

    static Process testpmd(String prefix, String mainLcore, String vdev, Path log, String... app) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(TESTPMD.toString(), "--no-huge", "-m", "512",
                "--single-file-segments", "--no-pci", "-l", "0-1", "--main-lcore", mainLcore,
                "--file-prefix=" + prefix, "--vdev", vdev, "--", "--total-num-mbufs=8192", "--stats-period", "1"));
        cmd.addAll(List.of(app));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    static void stop(Process p) throws InterruptedException {
        if (p.isAlive()) {
            p.toHandle().destroy(); // SIGTERM: testpmd prints its final statistics and exits
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    static long total(Path log, String field) throws IOException {
        Matcher m = Pattern.compile(field + ":\\s+(\\d+)").matcher(Files.readString(log));
        long last = 0;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    @Test
    void testpmdTrafficCrossesTheSwitchAndForgedSourcesDoNot() throws Exception {
        assumeTrue(Files.isExecutable(TESTPMD), "dpdk-testpmd not installed (Debian package dpdk-dev)");
        String id = Long.toString(ProcessHandle.current().pid());
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("udp");
        sw.addRule("udp", SecurityRule.of("udp", null, "10.0.1.0/24"));
        sw.createPort("a", "s", Ipv4Address.parse("10.0.1.2"), MacAddress.parse("02:00:00:00:00:0a"), List.of("udp"), null);
        sw.createPort("b", "s", Ipv4Address.parse("10.0.1.3"), MacAddress.parse("02:00:00:00:00:0b"), List.of("udp"), null);
        try (VhostUserNetServer a = VhostUserNetServer.start(sw, sw.port("a"), tmp.resolve("a.sock"));
             VhostUserNetServer b = VhostUserNetServer.start(sw, sw.port("b"), tmp.resolve("b.sock"))) {
            Path rxLog = tmp.resolve("rx.log");
            Process rx = testpmd("qtrx" + id, "0", "net_virtio_user1,path=" + b.socketPath() + ",mac=02:00:00:00:00:0b",
                    rxLog, "--forward-mode=rxonly");
            try {
                waitFor(() -> sw.port("b").linkUp(), 60, "b's receive ring");
                Path txLog = tmp.resolve("tx.log");
                Process tx = testpmd("qttx" + id, "1", "net_virtio_user0,path=" + a.socketPath() + ",mac=02:00:00:00:00:0a",
                        txLog, "--forward-mode=txonly", "--eth-peer=0,02:00:00:00:00:0b", "--tx-ip=10.0.1.2,10.0.1.3");
                waitFor(() -> sw.stats("b").txPackets() > 10_000, 120, "10000 frames through the switch");
                stop(tx);
                PortStats sa = sw.stats("a");
                PortStats sb = sw.stats("b");
                assertThat(sa.totalDrops()).as("a: %s", sa).isZero();
                assertThat(sb.drops().keySet()).as("b: %s", sb).isSubsetOf(DropReason.NO_RX_BUFFER);
                assertThat(sb.txPackets() + sb.drops(DropReason.NO_RX_BUFFER)).isEqualTo(sa.rxPackets());
                assertThat(sa.rxBytes()).isEqualTo(sa.rxPackets() * 64);

                // The same generator forging its source IP: counted, never delivered.
                long delivered = sw.stats("b").txPackets();
                Process forged = testpmd("qttx" + id, "1", "net_virtio_user0,path=" + a.socketPath()
                                + ",mac=02:00:00:00:00:0a", tmp.resolve("forged.log"), "--forward-mode=txonly",
                        "--eth-peer=0,02:00:00:00:00:0b", "--tx-ip=10.0.1.77,10.0.1.3");
                waitFor(() -> sw.stats("a").drops(DropReason.SPOOFED_IP) > 1000, 120, "forged frames dropped");
                stop(forged);
                assertThat(sw.stats("b").txPackets()).isEqualTo(delivered);
            } finally {
                stop(rx);
            }
            assertThat(total(rxLog, "RX-packets")).as("testpmd received").isPositive()
                    .isLessThanOrEqualTo(sw.stats("b").txPackets());
        }
    }

    interface Check {
        boolean ok();
    }

    static void waitFor(Check c, int seconds, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!c.ok()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }
}
