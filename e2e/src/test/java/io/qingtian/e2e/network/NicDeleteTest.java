package io.qingtian.e2e.network;

import static io.qingtian.e2e.network.TestpmdVhostUserNetTest.stop;
import static io.qingtian.e2e.network.TestpmdVhostUserNetTest.testpmd;
import static io.qingtian.e2e.network.TestpmdVhostUserNetTest.total;
import static io.qingtian.e2e.network.TestpmdVhostUserNetTest.waitFor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.card.api.ControlPlane;
import io.qingtian.card.cli.CardCommand;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.instance.Confinement;
import io.qingtian.card.instance.HypervisorLauncher;
import io.qingtian.network.NetworkException;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.service.NetworkReply;
import io.qingtian.network.service.NetworkRequest;
import io.qingtian.network.service.NetworkService;
import io.qingtian.network.vhostuser.CardNetworkBackends;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Deleting a vNIC: refused while it is attached (a front-end connected over vhost-user, or an
 * instance naming it), and then really gone: export stopped, socket removed, address free,
 * counters reset for whatever takes the name next.
 */
class NicDeleteTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path tmp;

    record R(int status, JsonNode body) {}

    static R call(String endpoint, String token, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(endpoint + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Authorization", "Bearer " + token);
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new R(r.statusCode(), JSON.readTree(r.body()));
    }

    /** {@code qt card ...} in process, as a user runs it next to the card (through its control socket). */
    static String[] qtCard(String... args) {
        CommandLine cl = CardCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        cl.setExecutionExceptionHandler((e, c, parse) -> {
            c.getErr().println(e.getMessage());
            return 2;
        });
        int exit = cl.execute(args);
        return new String[] {Integer.toString(exit), out.toString().trim(), err.toString().trim()};
    }

    @Test
    void theApiAndTheCliRefuseToDeleteAnInstancesNic() throws Exception {
        Path state = tmp.resolve("state");
        Files.createDirectories(state.resolve("images"));
        Files.write(state.resolve("images/k"), new byte[] {0}); // never started: any file names a kernel
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser(), new ControlPlane.Options(
                null, null, "127.0.0.1", 0, HypervisorLauncher.sameJvm(), Confinement.DEFAULT_UID_BASE))) {
            String api = card.plane().endpoint();
            String admin = Files.readString(state.resolve("control/admin.token")).trim();
            String alice = call(api, admin, "POST", "/v1/tenants", "{\"name\":\"alice\"}").body().get("token").asText();
            String bob = call(api, admin, "POST", "/v1/tenants", "{\"name\":\"bob\"}").body().get("token").asText();
            call(api, alice, "POST", "/v1/vpcs", "{\"name\":\"net\",\"cidr\":\"10.0.0.0/16\"}");
            call(api, alice, "POST", "/v1/subnets", "{\"name\":\"s1\",\"vpc\":\"net\",\"cidr\":\"10.0.1.0/24\"}");
            assertThat(call(api, alice, "POST", "/v1/nics", "{\"name\":\"n1\",\"subnet\":\"s1\"}").status()).isEqualTo(201);
            assertThat(call(api, alice, "POST", "/v1/nics", "{\"name\":\"n2\",\"subnet\":\"s1\"}").status()).isEqualTo(201);
            R inst = call(api, alice, "POST", "/v1/instances",
                    "{\"name\":\"vm\",\"kernel\":\"k\",\"memoryMib\":64,\"nics\":[\"n1\"],\"start\":false}");
            assertThat(inst.status()).as("%s", inst.body()).isEqualTo(201);

            R used = call(api, alice, "DELETE", "/v1/nics/n1", null);
            assertThat(used.status()).isEqualTo(409);
            assertThat(used.body().toString()).contains("nic n1 is used by instance vm");
            // Another tenant cannot even see it; a missing name is the same 404.
            assertThat(call(api, bob, "DELETE", "/v1/nics/n1", null).status()).isEqualTo(404);
            // The operator's CLI goes through the card's control socket: the instance's claim holds there too.
            String n1 = card.plane().network().config().nics().getFirst().name(); // TENANT.n1
            String[] cli = qtCard("nic", "delete", n1, "--force", "--state", state.toString());
            assertThat(cli[0]).isEqualTo("2");
            assertThat(cli[2]).isEqualTo("NIC " + n1 + " is in use by instance vm; delete the instance vm first");

            R ok = call(api, alice, "DELETE", "/v1/nics/n2", null);
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.body().get("deleted").asText()).isEqualTo("n2");
            assertThat(call(api, alice, "DELETE", "/v1/nics/n2", null).status()).isEqualTo(404);
            assertThat(call(api, alice, "GET", "/v1/nics", null).body().findValuesAsText("name")).containsExactly("n1");

            // Once the instance is gone, so can the NIC be.
            assertThat(call(api, alice, "DELETE", "/v1/instances/vm", null).status()).isEqualTo(200);
            assertThat(call(api, alice, "DELETE", "/v1/nics/n1", null).status()).isEqualTo(200);
            assertThat(card.plane().network().config().nics()).isEmpty();
        }
    }

    @Tag("qemu")
    @Test
    void deletingAVhostUserNicStopsItsExportAndFreesItsAddress() throws Exception {
        assumeTrue(Files.isExecutable(TestpmdVhostUserNetTest.TESTPMD), "dpdk-testpmd not installed (Debian package dpdk-dev)");
        String id = Long.toString(ProcessHandle.current().pid());
        Path sock = tmp.resolve("n.sock");
        String mac = "02:00:00:00:00:0b";
        try (NetworkService net = new NetworkService(tmp.resolve("state"), new CardNetworkBackends())) {
            net.handle(new NetworkRequest.VpcCreate("v", "10.0.0.0/16", null));
            net.handle(new NetworkRequest.SubnetCreate("s", "v", "10.0.1.0/24", null));
            net.handle(new NetworkRequest.SgCreate("udp"));
            net.handle(new NetworkRequest.SgRuleAdd("udp", "udp", null, "10.0.1.0/24"));
            net.handle(new NetworkRequest.NicCreate("n", "s", "10.0.1.3", mac, List.of("udp"), null, 0, 0));
            net.handle(new NetworkRequest.NicCreate("m", "s", "10.0.1.2", null, List.of(), null, 0, 0));
            net.handle(new NetworkRequest.NicExport("n", sock.toString()));
            VirtualSwitch sw = net.vswitch();
            sw.attach("m", (f, o, l) -> true);

            // A front-end (testpmd's virtio-user, receiving) holds the NIC: deletion is refused.
            Process rx = testpmd("qtdel" + id, "0", "net_virtio_user0,path=" + sock + ",mac=" + mac,
                    tmp.resolve("rx1.log"), "--forward-mode=rxonly");
            try {
                waitFor(() -> sw.port("n").linkUp(), 60, "n's receive ring");
                assertThatThrownBy(() -> net.handle(new NetworkRequest.NicDelete("n", false)))
                        .isInstanceOf(NetworkException.class).hasMessageContaining("NIC n is in use: a front-end is connected");
                deliver(sw, 3);
            } finally {
                stop(rx);
            }
            // The VM is gone: its link went down, and now the NIC can go.
            waitFor(() -> !sw.port("n").linkUp(), 30, "n's link down");
            NetworkReply.NicDeleted d = (NetworkReply.NicDeleted) net.handle(new NetworkRequest.NicDelete("n", false));
            assertThat(d).isEqualTo(new NetworkReply.NicDeleted("n", "10.0.1.3", sock.toString()));
            assertThat(sock).doesNotExist();
            assertThatThrownBy(() -> sw.stats("n")).hasMessage("no NIC n");

            // The same name, address and MAC again, exported at the same path: fresh counters.
            net.handle(new NetworkRequest.NicCreate("n", "s", "10.0.1.3", mac, List.of("udp"), null, 0, 0));
            net.handle(new NetworkRequest.NicExport("n", sock.toString()));
            Path log = tmp.resolve("rx2.log");
            rx = testpmd("qtdel" + id, "0", "net_virtio_user0,path=" + sock + ",mac=" + mac, log, "--forward-mode=rxonly");
            try {
                waitFor(() -> sw.port("n").linkUp(), 60, "the new n's receive ring");
                assertThat(sw.stats("n").txPackets()).isZero();
                deliver(sw, 5);
                waitFor(() -> rxPackets(log) == 5, 30, "testpmd's count of 5 (it prints its counters every second)");
                // --force disconnects the front-end and deletes all the same.
                net.handle(new NetworkRequest.NicDelete("n", true));
                assertThat(sock).doesNotExist();
                assertThat(net.config().nics()).extracting(NetworkReply.NicInfo::name).containsExactly("m");
            } finally {
                stop(rx);
            }
        }
    }

    static long rxPackets(Path log) {
        try {
            return total(log, "RX-packets");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * UDP frames from m to n until {@code n} were delivered into n's receive ring (the link is
     * up once the ring starts, which can be before the front-end posted its first buffers).
     */
    static void deliver(VirtualSwitch sw, int n) throws InterruptedException {
        Port m = sw.port("m");
        Port to = sw.port("n");
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (sw.stats("n").txPackets() < n) {
            assertThat(System.nanoTime()).as("%d frames delivered: %s", n, sw.stats("n")).isLessThan(deadline);
            byte[] f = Frames.udp(m.mac(), to.mac(), m.ip(), to.ip(), 7, 9, new byte[18]);
            sw.fromPort(m, f, f.length);
            Thread.sleep(20);
        }
    }
}
