package io.qingtian.e2e.network;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.service.NetworkReply;
import io.qingtian.network.service.NetworkRequest;
import io.qingtian.network.service.NetworkService;
import io.qingtian.network.vhostuser.CardNetworkBackends;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
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
 * Three QEMU TCG guests (stock Debian kernel, busybox) on vNICs exported by the network service
 * over vhost-user-net, booted in parallel. Two share VPC blue: DHCP, ping, a TCP file copy that
 * a security group first blocks and a runtime rule then opens, the metadata endpoint, the
 * uplink to a server on the host, a rate limit. The third is in VPC red, whose subnet has the
 * same CIDR and whose vNIC has the same IP and MAC as a blue guest: it gets that address by
 * DHCP from red, its own gateway answers, and it reaches no blue guest (ping and TCP fail
 * although both security groups would admit the traffic), while blue's copy to the shared
 * address lands in blue only.
 */
@Tag("qemu")
class VpcGuestsTest {
    private static final String M1 = "52:54:00:00:01:02";
    private static final String M2 = "52:54:00:00:01:03";

    @TempDir
    Path tmp;

    /** One QEMU guest with its console captured line by line. */
    static final class Guest implements AutoCloseable {
        final String name;
        final Process qemu;
        final List<String> lines = new ArrayList<>();
        final Thread reader;

        Guest(String name, Path kernel, Path initrd, Path sock, String mac) throws IOException {
            this.name = name;
            qemu = new ProcessBuilder("qemu-system-x86_64", "-M", "q35,memory-backend=mem", "-accel", "tcg",
                    "-m", "192M", "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
                    "-object", "memory-backend-memfd,id=mem,size=192M,share=on",
                    "-chardev", "socket,id=c1,path=" + sock,
                    "-netdev", "vhost-user,id=n0,chardev=c1",
                    // QEMU 7.2 under TCG crashes in MSI-X notifiers for vhost-user net without vectors=0.
                    "-device", "virtio-net-pci,netdev=n0,vectors=0,mac=" + mac,
                    "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                    "-append", "console=ttyS0 quiet panic=-1", "-no-reboot")
                    .redirectErrorStream(true).start();
            reader = Thread.ofVirtual().start(() -> {
                try (var r = qemu.inputReader(StandardCharsets.UTF_8)) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        synchronized (lines) {
                            lines.add(l);
                            lines.notifyAll();
                        }
                    }
                } catch (IOException ignored) {
                    // process gone
                }
            });
        }

        /** Waits for a console line matching {@code regex}; returns its match. */
        Matcher await(String regex, long seconds) throws InterruptedException {
            Pattern p = Pattern.compile(regex);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            synchronized (lines) {
                int seen = 0;
                while (true) {
                    for (; seen < lines.size(); seen++) {
                        Matcher m = p.matcher(lines.get(seen));
                        if (m.find()) {
                            return m;
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || (!qemu.isAlive() && seen == lines.size())) {
                        throw new AssertionError(name + ": no console line /" + regex + "/ within " + seconds
                                + " s; console:\n" + String.join("\n", lines));
                    }
                    lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(Math.min(left, 500_000_000L))));
                }
            }
        }

        /** A snapshot of the console so far. */
        List<String> lines() {
            synchronized (lines) {
                return List.copyOf(lines);
            }
        }

        @Override
        public void close() {
            qemu.destroyForcibly();
            try {
                qemu.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static final String PRELUDE = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            """ + GuestInitramfs.LOAD_MODULES + """
            ip link set lo up
            ip link set eth0 up
            udhcpc -i eth0 -n -q -t 20 -T 2 -s /udhcpc.sh || echo "QTNET dhcp-failed"
            """;

    static final String UDHCPC_SCRIPT = """
            #!/bin/sh
            case "$1" in
              bound|renew)
                ifconfig "$interface" "$ip" netmask "$subnet" up
                [ -n "$router" ] && route add default gw "$router"
                echo "QTNET lease $ip $subnet $router"
                ;;
            esac
            """;

    static final String SERVER = PRELUDE + """
            echo "QTNET listening"
            nc -l -p 5000 > /tmp/recv
            echo "QTNET recv $(sha256sum /tmp/recv | cut -d' ' -f1) $(wc -c < /tmp/recv)"
            nc -l -p 5001 > /tmp/recv2
            echo "QTNET recv2 $(wc -c < /tmp/recv2)"
            sleep 600
            """;

    /** busybox-static's wget crashes in static glibc's resolver: plain HTTP/1.0 over nc instead. */
    static final String HTTP_GET = """
            get() { printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' "$3" "$1" | nc -w 10 "$1" "$2"; }
            """;

    static final String CLIENT = PRELUDE + HTTP_GET + """
            # A listener red's guest would reach if anything crossed between VPCs.
            (nc -l -p 5002 > /tmp/red; echo "QTNET g2-got-red $(wc -c < /tmp/red)") &
            ping -c 3 -W 3 10.0.1.2 > /tmp/ping && echo "QTNET ping-ok"
            # 2000 bytes of ICMP payload do not fit the 1500-byte MTU: the kernel fragments them, and
            # the switch drops fragments (counted as ip_fragment).
            if ping -c 1 -W 2 -s 2000 10.0.1.2 > /dev/null; then echo "QTNET bigping-reached"; else echo "QTNET bigping-dropped"; fi
            echo "QTNET md-id $(get 169.254.169.254 80 /latest/meta-data/instance-id | tail -n 1)"
            echo "QTNET md-doc $(get 169.254.169.254 80 /latest/dynamic/instance-identity/document | tr -d ' \\r\\n')"
            dd if=/dev/urandom of=/tmp/f bs=1k count=192 2>/dev/null
            echo "QTNET sent $(sha256sum /tmp/f | cut -d' ' -f1) $(wc -c < /tmp/f)"
            nc -w 4 10.0.1.2 5000 < /dev/null; echo "QTNET blocked-attempt-done"
            while [ ! -e /tmp/go ]; do
              if nc -w 4 10.0.1.2 5000 < /tmp/f; then touch /tmp/go; else sleep 1; fi
            done
            echo "QTNET copy-done"
            echo "QTNET host $(get 172.31.99.1 18080 /hello | tail -n 1)"
            dd if=/dev/urandom of=/tmp/big bs=1k count=640 2>/dev/null
            echo "QTNET ready-for-limit"
            sleep 2
            until nc -w 4 10.0.1.2 5001 < /tmp/big; do sleep 1; done
            echo "QTNET big-done"
            sleep 600
            """;

    /** VPC red's guest: same CIDR, same IP and MAC as g1; tries to reach blue's g2 (10.0.1.3). */
    static final String RED = PRELUDE + HTTP_GET + """
            (nc -l -p 5000 > /tmp/in; echo "QTNET red-got $(wc -c < /tmp/in)") &
            ping -c 2 -W 3 10.0.1.1 > /dev/null && echo "QTNET red-gateway-ok"
            echo "QTNET red-md $(get 169.254.169.254 80 /latest/meta-data/instance-id | tail -n 1)"
            if ping -c 3 -W 2 10.0.1.3 > /dev/null; then echo "QTNET red-ping-reached"; else echo "QTNET red-ping-failed"; fi
            if echo hello | nc -w 3 10.0.1.3 5002; then echo "QTNET red-tcp-reached"; else echo "QTNET red-tcp-failed"; fi
            echo "QTNET red-done"
            sleep 600
            """;

    Path initrd(GuestKernel k, String init, String name) throws IOException {
        Path p = tmp.resolve(name + ".cpio");
        GuestInitramfs.withInit(init)
                .file("udhcpc.sh", 0755, UDHCPC_SCRIPT.getBytes(StandardCharsets.UTF_8))
                .modules(k, "virtio_pci", "virtio_net")
                .writeTo(p);
        return p;
    }

    static void ip(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(cmd + ": " + out);
        }
    }

    @Test
    void guestsInOneVpcTalkAndEverythingElseIsEnforced() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path state = tmp.resolve("state");
        String tap = "qtv" + ProcessHandle.current().pid() % 100000;
        HttpServer host = null;
        try (NetworkService net = new NetworkService(state, new CardNetworkBackends())) {
            net.handle(new NetworkRequest.VpcCreate("blue", "10.0.0.0/16", "acme"));
            net.handle(new NetworkRequest.SubnetCreate("blue-a", "blue", "10.0.1.0/24", null));
            net.handle(new NetworkRequest.SgCreate("vm"));
            net.handle(new NetworkRequest.SgRuleAdd("vm", "icmp", null, "10.0.0.0/16"));
            net.handle(new NetworkRequest.NicCreate("g1", "blue-a", "10.0.1.2", M1, List.of("vm"), "i-guest1", 0, 0));
            net.handle(new NetworkRequest.NicCreate("g2", "blue-a", "10.0.1.3", M2, List.of("vm"), "i-guest2", 0, 0));
            net.handle(new NetworkRequest.NicExport("g1", tmp.resolve("g1.sock").toString()));
            net.handle(new NetworkRequest.NicExport("g2", tmp.resolve("g2.sock").toString()));
            // g2 listens on 5002 for anyone: only VPC isolation can keep red's guest out.
            net.handle(new NetworkRequest.SgRuleAdd("vm", "tcp", "5002", "0.0.0.0/0"));
            // A second VPC with the very same CIDRs, and a vNIC with g1's very IP and MAC.
            net.handle(new NetworkRequest.VpcCreate("red", "10.0.0.0/16", "other"));
            net.handle(new NetworkRequest.SubnetCreate("red-a", "red", "10.0.1.0/24", null));
            net.handle(new NetworkRequest.SgCreate("open"));
            net.handle(new NetworkRequest.SgRuleAdd("open", "icmp", null, "0.0.0.0/0"));
            net.handle(new NetworkRequest.SgRuleAdd("open", "tcp", "5000", "0.0.0.0/0"));
            net.handle(new NetworkRequest.NicCreate("r1", "red-a", "10.0.1.2", M1, List.of("open"), "i-red1", 0, 0));
            net.handle(new NetworkRequest.NicExport("r1", tmp.resolve("r1.sock").toString()));
            VirtualSwitch sw = net.vswitch();
            // The uplink: a TAP with a host address and an HTTP server behind it.
            boolean uplink = Files.isWritable(Path.of("/dev/net/tun"));
            if (uplink) {
                net.handle(new NetworkRequest.UplinkAttach("blue", tap));
                ip("link", "set", tap, "up");
                ip("addr", "add", "172.31.99.1/32", "dev", tap);
                ip("route", "add", "10.0.0.0/16", "dev", tap);
                host = HttpServer.create(new InetSocketAddress("172.31.99.1", 18080), 8);
                host.createContext("/hello", ex -> {
                    byte[] b = "hello-from-host".getBytes(StandardCharsets.UTF_8);
                    ex.sendResponseHeaders(200, b.length);
                    ex.getResponseBody().write(b);
                    ex.close();
                });
                host.start();
            }

            try (Guest g1 = new Guest("g1", kernel.bzImage(), initrd(kernel, SERVER, "g1"), tmp.resolve("g1.sock"), M1);
                 Guest g2 = new Guest("g2", kernel.bzImage(), initrd(kernel, CLIENT, "g2"), tmp.resolve("g2.sock"), M2);
                 Guest r1 = new Guest("r1", kernel.bzImage(), initrd(kernel, RED, "r1"), tmp.resolve("r1.sock"), M1)) {
                // DHCP hands out exactly the control plane's addresses.
                assertThat(g1.await("QTNET (lease|dhcp-failed)", 240).group()).isEqualTo("QTNET lease");
                assertThat(g1.await("QTNET lease (\\S+) (\\S+) (\\S+)", 1).group(1)).isEqualTo("10.0.1.2");
                Matcher l2 = g2.await("QTNET lease (\\S+) (\\S+) (\\S+)", 240);
                assertThat(l2.group(1)).isEqualTo("10.0.1.3");
                assertThat(l2.group(2)).isEqualTo("255.255.255.0");
                assertThat(l2.group(3)).isEqualTo("10.0.1.1");
                g2.await("QTNET ping-ok", 120);
                assertThat(g2.await("QTNET bigping-(\\w+)", 60).group(1)).isEqualTo("dropped");
                assertThat(sw.stats("g2").drops(DropReason.IP_FRAGMENT)).as("g2: %s", sw.stats("g2")).isPositive();
                // Metadata: the identity of the asking port, nobody else's.
                String mdId = g2.await("QTNET md-id (\\S*)", 120).group(1);
                assertThat(mdId).as("g2 console:\n%s\nstats %s", String.join("\n", g2.lines), sw.stats("g2"))
                        .isEqualTo("i-guest2");
                assertThat(g2.await("QTNET md-doc (.*)", 60).group(1))
                        .contains("\"instanceId\":\"i-guest2\"", "\"tenant\":\"acme\"", "\"vpc\":\"blue\"",
                                "\"privateIp\":\"10.0.1.3\"", "\"mac\":\"" + M2 + "\"");

                // The security group has no TCP rule yet: the first connection attempt is dropped.
                Matcher sent = g2.await("QTNET sent (\\w+) (\\d+)", 60);
                g2.await("QTNET blocked-attempt-done", 60);
                assertThat(sw.stats("g1").drops(DropReason.SECURITY_GROUP)).isPositive();
                // Meanwhile in VPC red: its guest got g1's very address from red's DHCP and its own identity,
                // reached its own gateway, and neither ping nor TCP reached blue's g2.
                Matcher lr = r1.await("QTNET lease (\\S+) (\\S+) (\\S+)", 60);
                assertThat(List.of(lr.group(1), lr.group(2), lr.group(3)))
                        .containsExactly("10.0.1.2", "255.255.255.0", "10.0.1.1");
                r1.await("QTNET red-gateway-ok", 60);
                assertThat(r1.await("QTNET red-md (\\S*)", 60).group(1)).isEqualTo("i-red1");
                assertThat(r1.await("QTNET red-ping-(\\w+)", 60).group(1)).isEqualTo("failed");
                assertThat(r1.await("QTNET red-tcp-(\\w+)", 60).group(1)).isEqualTo("failed");
                r1.await("QTNET red-done", 60);
                // Red's ARP for 10.0.1.3 found nobody in red (blue's g2 is not there to answer).
                assertThat(sw.stats("r1").drops(DropReason.UNKNOWN_DESTINATION)).isPositive();
                // Everything blue does from here on (the copy, the uplink, the rate limit) happens
                // after red's attempts: blue's guests still reach each other.
                NetworkReply.SgInfo sg = (NetworkReply.SgInfo) net.handle(
                        new NetworkRequest.SgRuleAdd("vm", "tcp", "5000", "10.0.1.0/24"));
                assertThat(sg.rules()).contains("tcp ports 5000-5000 from 10.0.1.0/24");
                // Now the copy goes through, replies included, with the same checksum.
                g2.await("QTNET copy-done", 180);
                Matcher recv = g1.await("QTNET recv (\\w+) (\\d+)", 60);
                assertThat(recv.group(1)).isEqualTo(sent.group(1));
                assertThat(recv.group(2)).isEqualTo(sent.group(2));

                if (uplink) {
                    assertThat(g2.await("QTNET host (.*)", 60).group(1)).isEqualTo("hello-from-host");
                }

                // Rate limit: what g2 sends is shaped to 1.6 Mbit/s; measure what reaches g1 mid-transfer.
                g2.await("QTNET ready-for-limit", 60);
                long limit = 1_600_000;
                net.handle(new NetworkRequest.SgRuleAdd("vm", "tcp", "5001", "10.0.1.3/32"));
                net.handle(new NetworkRequest.NicLimit("g2", limit, 0));
                long startBytes = -1;
                long startNanos = 0;
                long endBytes = -1;
                long endNanos = 0;
                long base = sw.stats("g1").txBytes();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                while (System.nanoTime() < deadline && endBytes < 0) {
                    long now = System.nanoTime();
                    long got = sw.stats("g1").txBytes() - base;
                    if (startBytes < 0 && got >= 100_000) {
                        startBytes = got;
                        startNanos = now;
                    } else if (startBytes >= 0 && got >= 500_000) {
                        endBytes = got;
                        endNanos = now;
                    }
                    Thread.sleep(20);
                }
                assertThat(endBytes).as("transfer progressed under the limit").isPositive();
                double bps = (endBytes - startBytes) * 8e9 / (endNanos - startNanos);
                System.out.printf("rate limit %d bit/s: measured %.0f bit/s (%.2fx)%n", limit, bps, bps / limit);
                // Shaped (the guest's ring is held), so TCP runs at the limit rather than collapsing.
                assertThat(bps).isLessThanOrEqualTo(limit * 1.10).isGreaterThan(limit * 0.6);
                g2.await("QTNET big-done", 180);
                assertThat(g1.await("QTNET recv2 (\\d+)", 60).group(1)).isEqualTo("655360");

                // Blue's copy to 10.0.1.2:5000 reached blue's g1 (checksum above), never red's guest,
                // and g2's open listener never heard from red.
                assertThat(r1.lines()).noneMatch(l -> l.contains("QTNET red-got"));
                assertThat(g2.lines()).noneMatch(l -> l.contains("QTNET g2-got-red"));
            }
        } finally {
            if (host != null) {
                host.stop(0);
            }
        }
    }
}
