package io.qingtian.network.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.network.NetworkException;
import io.qingtian.network.cli.NetworkCommands;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.service.NetworkReply.NicInfo;
import io.qingtian.network.service.NetworkReply.NicStatsInfo;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class NetworkServiceTest {
    @TempDir
    Path state;

    @Command(name = "card")
    static final class Card implements Runnable {
        public void run() {}
    }

    record Run(int exit, String out, String err) {}

    Run qt(String... args) {
        CommandLine card = new CommandLine(new Card());
        NetworkCommands.register(card, NetworkCommands::offline);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        card.setOut(new PrintWriter(out));
        card.setErr(new PrintWriter(err));
        card.setExecutionExceptionHandler((e, cl, parse) -> {
            cl.getErr().println(e.getMessage());
            return 2;
        });
        int exit = card.execute(args);
        return new Run(exit, out.toString().trim(), err.toString().trim());
    }

    @Test
    void commandsConfigureAndPersistTheNetwork() {
        String s = state.toString();
        assertThat(qt("vpc", "create", "blue", "--cidr", "10.0.0.0/16", "--tenant", "acme", "--state", s).out())
                .isEqualTo("vpc blue 10.0.0.0/16 tenant acme");
        assertThat(qt("subnet", "create", "web", "--vpc", "blue", "--cidr", "10.0.1.0/24", "--state", s).out())
                .startsWith("subnet web 10.0.1.0/24 in vpc blue gateway 10.0.1.1");
        assertThat(qt("sg", "create", "ssh", "--state", s).exit()).isZero();
        assertThat(qt("sg", "rule", "add", "ssh", "--proto", "tcp", "--ports", "22", "--from", "0.0.0.0/0",
                "--state", s).out()).contains("allow tcp ports 22-22 from 0.0.0.0/0");
        assertThat(qt("sg", "rule", "add", "ssh", "--proto", "icmp", "--from", "10.0.0.0/8", "--state", s).exit())
                .isZero();
        Run nic = qt("nic", "create", "vm1", "--subnet", "web", "--sg", "ssh", "--mac", "52:54:00:12:34:56",
                "--max-pps", "1000", "--state", s);
        assertThat(nic.out()).isEqualTo("nic vm1 10.0.1.2 52:54:00:12:34:56 subnet web vpc blue sg ssh");
        assertThat(qt("sg", "rule", "remove", "ssh", "--proto", "icmp", "--from", "10.0.0.0/8", "--state", s).out())
                .doesNotContain("icmp");
        assertThat(qt("nic", "stats", "vm1", "--state", s).out())
                .contains("nic vm1 link down", "rx (from guest) packets 0");
        assertThat(Files.exists(state.resolve(NetworkService.STATE_FILE))).isTrue();

        // A restarted service has the same configuration, addresses and MACs included.
        try (NetworkService again = new NetworkService(state, NetworkBackends.none())) {
            NetworkReply.Config c = again.config();
            assertThat(c.nics()).containsExactly(new NicInfo("vm1", "web", "blue", "10.0.1.2", "52:54:00:12:34:56",
                    List.of("ssh"), "vm1", 0, 1000));
            assertThat(c.securityGroups().getFirst().rules()).containsExactly("tcp ports 22-22 from 0.0.0.0/0");
            assertThat(again.vswitch().subnet("web").gatewayMac().toString())
                    .isEqualTo(c.subnets().getFirst().gatewayMac());
            assertThat(qt("network", "show", "--state", s).out()).contains("vpc blue", "nic vm1", "sg ssh");
        }
    }

    @Test
    void refusalsAreOneLineErrors() {
        String s = state.toString();
        qt("vpc", "create", "blue", "--cidr", "10.0.0.0/16", "--state", s);
        Run r = qt("subnet", "create", "x", "--vpc", "nope", "--cidr", "10.0.1.0/24", "--state", s);
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("no VPC nope");
        assertThat(qt("vpc", "create", "red", "--cidr", "10.0.0.1/16", "--state", s).err())
                .isEqualTo("host bits set in 10.0.0.1/16");
        assertThat(qt("sg", "rule", "add", "nope", "--proto", "sctp", "--from", "0.0.0.0/0", "--state", s).err())
                .isEqualTo("protocol must be tcp, udp or icmp: sctp");
        assertThat(qt("nic", "export", "nope", "--vhost-user", "/tmp/x.sock", "--state", s).err())
                .isEqualTo("no NIC nope");
    }

    @Test
    void wireFormatRoundTripsThroughTheService() {
        try (NetworkService svc = new NetworkService(null, NetworkBackends.none())) {
            NetworkClient client = NetworkWire.client(json -> NetworkWire.serve(svc, json));
            client.call(new NetworkRequest.VpcCreate("v", "10.0.0.0/16", "t"));
            client.call(new NetworkRequest.SubnetCreate("s", "v", "10.0.1.0/24", "10.0.0.2"));
            client.call(new NetworkRequest.SgCreate("g"));
            client.call(new NetworkRequest.SgRuleAdd("g", "udp", "53", "0.0.0.0/0"));
            NicInfo n = (NicInfo) client.call(new NetworkRequest.NicCreate("n", "s", "10.0.1.9", null, List.of("g"),
                    "i-9", 0, 0));
            assertThat(n.ip()).isEqualTo("10.0.1.9");
            assertThat(NetworkWire.encode(new NetworkRequest.NicStats("n"))).isEqualTo("{\"op\":\"nic.stats\",\"name\":\"n\"}");
            assertThatThrownBy(() -> client.call(new NetworkRequest.NicStats("zz")))
                    .isInstanceOf(NetworkException.class).hasMessage("no NIC zz");
            assertThat(NetworkWire.serve(svc, "{\"op\":\"launch.missiles\"}")).startsWith("{\"error\":\"bad network request");

            // Traffic shows up in the stats reply.
            VirtualSwitch sw = svc.vswitch();
            sw.attach("n", (f, o, l) -> true);
            Port p = sw.port("n");
            byte[] f = Frames.icmpEcho(p.mac(), p.subnet().gatewayMac(), p.ip(), Ipv4Address.parse("10.0.1.1"), 8, 1, 1,
                    new byte[0]);
            sw.fromPort(p, f, f.length);
            f[6] ^= 1;
            sw.fromPort(p, f, f.length);
            NicStatsInfo st = (NicStatsInfo) client.call(new NetworkRequest.NicStats("n"));
            assertThat(st.rxPackets()).isEqualTo(2);
            assertThat(st.txPackets()).isEqualTo(1);
            assertThat(st.drops()).containsEntry("spoofed_mac", 1L);
        }
    }

    @Test
    void nicDeleteFreesTheNicAndIsPersisted() {
        String s = state.toString();
        qt("vpc", "create", "blue", "--cidr", "10.0.0.0/16", "--state", s);
        qt("subnet", "create", "web", "--vpc", "blue", "--cidr", "10.0.1.0/24", "--state", s);
        qt("nic", "create", "vm1", "--subnet", "web", "--mac", "52:54:00:12:34:56", "--state", s);
        qt("nic", "create", "vm2", "--subnet", "web", "--state", s);
        assertThat(qt("nic", "delete", "vm1", "--state", s).out()).isEqualTo("nic vm1 deleted, 10.0.1.2 is free");
        Run gone = qt("nic", "stats", "vm1", "--state", s);
        assertThat(gone.exit()).isEqualTo(2);
        assertThat(gone.err()).isEqualTo("no NIC vm1");
        assertThat(qt("nic", "delete", "vm1", "--state", s).err()).isEqualTo("no NIC vm1");
        // Its address and MAC go to the next NIC; the deletion survived the restart in between.
        assertThat(qt("nic", "create", "vm3", "--subnet", "web", "--mac", "52:54:00:12:34:56", "--state", s).out())
                .isEqualTo("nic vm3 10.0.1.2 52:54:00:12:34:56 subnet web vpc blue sg");
        try (NetworkService again = new NetworkService(state, NetworkBackends.none())) {
            assertThat(again.config().nics()).extracting(NicInfo::name).containsExactly("vm2", "vm3");
        }
    }

    /** Backends whose exports only record being closed; a test "connects" a front-end by attaching a sink. */
    static final class FakeBackends implements NetworkBackends {
        final List<String> closed = new java.util.ArrayList<>();

        /** Whether exports report a connected front-end (only "k" asks). */
        boolean connected = true;

        @Override
        public AutoCloseable exportVhostUser(VirtualSwitch sw, Port port, Path socket) {
            return new Export() {
                @Override
                public boolean connected() {
                    return port.name().equals("k") && connected;
                }

                @Override
                public void close() {
                    closed.add(port.name() + "@" + socket.getFileName());
                }
            };
        }

        @Override
        public AutoCloseable attachTap(VirtualSwitch sw, String vpc, String ifname) {
            throw new UnsupportedOperationException("no TAP here");
        }
    }

    @Test
    void nicDeleteIsRefusedWhileAttachedAndStopsTheExport() {
        FakeBackends backends = new FakeBackends();
        try (NetworkService svc = new NetworkService(state, backends)) {
            svc.handle(new NetworkRequest.VpcCreate("v", "10.0.0.0/16", "t"));
            svc.handle(new NetworkRequest.SubnetCreate("s", "v", "10.0.1.0/24", null));
            svc.handle(new NetworkRequest.NicCreate("n", "s", null, null, List.of(), null, 0, 0));
            svc.handle(new NetworkRequest.NicCreate("m", "s", null, null, List.of(), null, 0, 0));
            svc.handle(new NetworkRequest.NicExport("n", state.resolve("n.sock").toString()));
            svc.vswitch().attach("n", (f, o, l) -> true); // a front-end started the receive ring

            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicDelete("n", false)))
                    .isInstanceOf(NetworkException.class)
                    .hasMessage("NIC n is in use: a front-end is connected to " + state.resolve("n.sock")
                            + "; stop its VM first (or --force to disconnect it)");
            assertThat(backends.closed).isEmpty();
            assertThat(svc.vswitch().port("n").linkUp()).isTrue();

            // A front-end connected whose driver has not started the rings yet holds the NIC too.
            svc.handle(new NetworkRequest.NicCreate("k", "s", null, null, List.of(), null, 0, 0));
            svc.handle(new NetworkRequest.NicExport("k", state.resolve("k.sock").toString()));
            assertThat(svc.vswitch().port("k").linkUp()).isFalse();
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicDelete("k", false)))
                    .hasMessageContaining("NIC k is in use: a front-end is connected");
            backends.connected = false;
            svc.handle(new NetworkRequest.NicDelete("k", false));
            assertThat(backends.closed).containsExactly("k@k.sock");
            backends.closed.clear();

            // An instance's claim holds even against --force.
            svc.setNicHolder(nic -> nic.equals("m") ? "instance web1" : null);
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicDelete("m", true)))
                    .hasMessage("NIC m is in use by instance web1; delete the instance web1 first");

            NetworkReply.NicDeleted d = (NetworkReply.NicDeleted) svc.handle(new NetworkRequest.NicDelete("n", true));
            assertThat(d.render()).isEqualTo("nic n deleted, 10.0.1.2 is free, export at " + state.resolve("n.sock")
                    + " stopped");
            assertThat(backends.closed).containsExactly("n@n.sock");
            assertThat(svc.config().exports()).isEmpty();
            assertThat(svc.config().nics()).extracting(NicInfo::name).containsExactly("m");
        }
        // Restarted: nothing to re-export.
        FakeBackends again = new FakeBackends();
        try (NetworkService svc = new NetworkService(state, again)) {
            assertThat(svc.config().exports()).isEmpty();
            assertThat(svc.warnings()).isEmpty();
        }
        assertThat(again.closed).isEmpty();
    }

    @Test
    void nicDeleteOnTheWire() {
        assertThat(NetworkWire.encode(new NetworkRequest.NicDelete("n", false)))
                .isEqualTo("{\"op\":\"nic.delete\",\"name\":\"n\",\"force\":false}");
        try (NetworkService svc = new NetworkService(null, NetworkBackends.none())) {
            NetworkClient client = NetworkWire.client(json -> NetworkWire.serve(svc, json));
            client.call(new NetworkRequest.VpcCreate("v", "10.0.0.0/16", "t"));
            client.call(new NetworkRequest.SubnetCreate("s", "v", "10.0.1.0/24", null));
            client.call(new NetworkRequest.NicCreate("n", "s", "10.0.1.7", null, List.of(), null, 0, 0));
            assertThat(client.call(new NetworkRequest.NicDelete("n", false)))
                    .isEqualTo(new NetworkReply.NicDeleted("n", "10.0.1.7", null));
            assertThatThrownBy(() -> client.call(new NetworkRequest.NicDelete("n", false))).hasMessage("no NIC n");
        }
    }

    @Test
    void nicUnexportOnTheWireAndOffline() {
        assertThat(NetworkWire.encode(new NetworkRequest.NicUnexport("n", true)))
                .isEqualTo("{\"op\":\"nic.unexport\",\"name\":\"n\",\"force\":true}");
        String s = state.toString();
        qt("vpc", "create", "blue", "--cidr", "10.0.0.0/16", "--state", s);
        qt("subnet", "create", "web", "--vpc", "blue", "--cidr", "10.0.1.0/24", "--state", s);
        qt("nic", "create", "vm1", "--subnet", "web", "--state", s);
        assertThat(qt("nic", "unexport", "vm1", "--state", s).err()).isEqualTo("NIC vm1 is not exported");
        assertThat(qt("nic", "unexport", "nope", "--state", s).err()).isEqualTo("no NIC nope");
        // Offline (no card running) an export cannot start; a record the card left behind
        // (here: written by a card's service) is forgotten, so the card exports it afresh.
        FakeBackends backends = new FakeBackends();
        try (NetworkService svc = new NetworkService(state, backends)) {
            svc.handle(new NetworkRequest.NicExport("vm1", "/nonexistent/vm1.sock"));
        }
        Run r = qt("nic", "unexport", "vm1", "--state", s);
        assertThat(r.out()).isEqualTo("nic vm1 unexported from /nonexistent/vm1.sock (it was not running)");
        try (NetworkService svc = new NetworkService(state, NetworkBackends.none())) {
            assertThat(svc.config().exports()).isEmpty();
            assertThat(svc.warnings()).isEmpty();
        }
    }
}
