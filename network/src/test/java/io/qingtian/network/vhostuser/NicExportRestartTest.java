package io.qingtian.network.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.network.NetworkException;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.service.NetworkReply;
import io.qingtian.network.service.NetworkRequest;
import io.qingtian.network.service.NetworkService;
import io.qingtian.network.service.NicExportState;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A NIC's vhost-user export outlives the network service: a service started again on the same
 * state directory (after a crash: stale socket files left behind) serves every recorded export
 * on its socket again, and our own vhost-user front-end passes frames through it; a state
 * directory that moved brings its exports back under the new path, never at the old one; an
 * export recorded at a path that is gone is not serving and is replaced by the next export.
 */
class NicExportRestartTest {
    private static final MacAddress MAC_A = MacAddress.parse("02:00:00:00:00:0a");
    private static final MacAddress MAC_B = MacAddress.parse("02:00:00:00:00:0b");
    private static final Ipv4Address IP_A = Ipv4Address.parse("10.0.1.2");
    private static final Ipv4Address IP_B = Ipv4Address.parse("10.0.1.3");

    @TempDir
    Path tmp;

    private static NetworkService open(Path state) {
        return new NetworkService(state, new CardNetworkBackends());
    }

    private static void define(NetworkService svc, Path state) throws Exception {
        svc.handle(new NetworkRequest.VpcCreate("v", "10.0.0.0/16", "t"));
        svc.handle(new NetworkRequest.SubnetCreate("s", "v", "10.0.1.0/24", null));
        svc.handle(new NetworkRequest.SgCreate("g"));
        svc.handle(new NetworkRequest.SgRuleAdd("g", "udp", null, "10.0.0.0/16"));
        svc.handle(new NetworkRequest.NicCreate("a", "s", IP_A.toString(), MAC_A.toString(), List.of("g"), null, 0, 0));
        svc.handle(new NetworkRequest.NicCreate("b", "s", IP_B.toString(), MAC_B.toString(), List.of("g"), null, 0, 0));
        Path inst = Files.createDirectories(state.resolve("instances/i1"));
        svc.handle(new NetworkRequest.NicExport("a", inst.resolve("nic-a.sock").toString()));
        svc.handle(new NetworkRequest.NicExport("b", inst.resolve("nic-b.sock").toString()));
    }

    /** Connects a front-end to both NICs' exports and sends a UDP frame from a to b; b receives it intact. */
    private static void frameCrosses(NetworkService svc, int tag) throws Exception {
        VhostUserNetDataPathTest.Nic a = new VhostUserNetDataPathTest.Nic(svc.exportState("a").socket());
        VhostUserNetDataPathTest.Nic b = new VhostUserNetDataPathTest.Nic(svc.exportState("b").socket());
        try {
            long rx = b.mem.allocate(0, 2048, 64);
            b.add(0, rx, 2048, true);
            b.publish(0);
            long deadline = System.nanoTime() + 30_000_000_000L; // ends when the condition holds
            while (!svc.vswitch().port("b").linkUp()) {
                assertThat(System.nanoTime()).as("b's receive ring started").isLessThan(deadline);
                Thread.sleep(5);
            }
            assertThat(svc.exportState("b").connected()).isTrue();
            byte[] payload = new byte[32];
            Arrays.fill(payload, (byte) tag);
            byte[] f = Frames.udp(MAC_A, MAC_B, IP_A, IP_B, 1024, 2048, payload);
            long tx = a.mem.allocate(0, 12 + f.length, 64);
            MemorySegment s = a.mem.slice(tx, 12 + f.length);
            s.fill((byte) 0);
            MemorySegment.copy(f, 0, s, ValueLayout.JAVA_BYTE, 12, f.length);
            a.add(1, tx, 12 + f.length, false);
            a.publish(1);
            int[] ids = new int[1];
            int[] lens = new int[1];
            while (b.rings[0].poll(ids, lens) == 0) {
                assertThat(System.nanoTime()).as("the frame arrived: %s", svc.vswitch().stats("b")).isLessThan(deadline);
                Thread.sleep(1);
            }
            byte[] got = b.mem.slice(rx, lens[0]).toArray(ValueLayout.JAVA_BYTE);
            assertThat(Arrays.copyOfRange(got, 12, got.length)).isEqualTo(f);
        } finally {
            a.fe.close();
            b.fe.close();
        }
        long deadline = System.nanoTime() + 30_000_000_000L; // ends when the condition holds
        while (svc.exportState("b").connected()) {
            assertThat(System.nanoTime()).as("b's front-end gone").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    /** What a SIGKILLed service leaves: a socket file nobody listens on. */
    private static void leaveStaleSocket(Path p) throws Exception {
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(p));
        }
        assertThat(p).exists();
    }

    @Test
    void exportsComeBackOnTheSameSocketsAndUnderAMovedStateDirectory() throws Exception {
        Path state = tmp.resolve("first/state");
        Path sockA = state.resolve("instances/i1/nic-a.sock");
        try (NetworkService svc = open(state)) {
            define(svc, state);
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(sockA, true, false));
            frameCrosses(svc, 1);
        }
        // The service died without cleaning up (SIGKILL): its socket files stay, nobody listens.
        leaveStaleSocket(sockA);
        leaveStaleSocket(state.resolve("instances/i1/nic-b.sock"));
        try (NetworkService svc = open(state)) {
            assertThat(svc.warnings()).isEmpty();
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(sockA, true, false));
            frameCrosses(svc, 2);
        }
        // Saved relative to the state directory, so that a move takes the exports along.
        assertThat(Files.readString(state.resolve(NetworkService.STATE_FILE))).contains("\"instances/i1/nic-a.sock\"")
                .doesNotContain(state.toString());

        Path moved = Files.createDirectories(tmp.resolve("second")).resolve("state");
        Files.move(state, moved);
        try (NetworkService svc = open(moved)) {
            assertThat(svc.warnings()).isEmpty();
            Path newA = moved.resolve("instances/i1/nic-a.sock");
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(newA, true, false));
            assertThat(svc.config().exports()).extracting(NetworkReply.ExportInfo::vhostUserSocket)
                    .containsExactly(newA.toString(), moved.resolve("instances/i1/nic-b.sock").toString());
            assertThat(sockA).as("nothing at the old path").doesNotExist();
            assertThat(sockA.getParent()).doesNotExist();
            frameCrosses(svc, 3);
        }
    }

    @Test
    void anExportWhoseDirectoryIsGoneIsReplacedByTheNextExport() throws Exception {
        Path state = tmp.resolve("state");
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        try (NetworkService svc = open(state)) {
            define(svc, state);
            svc.handle(new NetworkRequest.NicUnexport("a", false));
            svc.handle(new NetworkRequest.NicExport("a", elsewhere.resolve("a.sock").toString()));
        }
        Files.delete(elsewhere); // the socket went with close; now its directory goes too
        Path fresh = state.resolve("instances/i2/nic-a.sock");
        try (NetworkService svc = open(state)) {
            assertThat(svc.warnings()).singleElement().asString()
                    .startsWith("cannot export NIC a at " + elsewhere.resolve("a.sock"));
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(elsewhere.resolve("a.sock"), false, false));
            Files.createDirectories(fresh.getParent());
            NetworkReply.ExportInfo x = svc.exportNic(new NetworkRequest.NicExport("a", fresh.toString()));
            assertThat(x.vhostUserSocket()).isEqualTo(fresh.toString());
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(fresh, true, false));
            assertThat(elsewhere).as("the dead path is not used").doesNotExist();
            frameCrosses(svc, 4);
        }
        try (NetworkService svc = open(state)) {
            assertThat(svc.warnings()).isEmpty();
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(fresh, true, false));
        }
    }

    @Test
    void unexportAndDoubleExportsAreClearErrors() throws Exception {
        Path state = tmp.resolve("state");
        try (NetworkService svc = open(state)) {
            define(svc, state);
            Path sockA = state.resolve("instances/i1/nic-a.sock");
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicExport("a", tmp.resolve("other.sock").toString())))
                    .isInstanceOf(NetworkException.class)
                    .hasMessage("NIC a is already exported at " + sockA + " (nic unexport first to move it)");
            assertThat(tmp.resolve("other.sock")).doesNotExist();
            // another NIC at a socket that is served: the live socket is not taken over
            svc.handle(new NetworkRequest.NicCreate("c", "s", null, null, List.of(), null, 0, 0));
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicExport("c", sockA.toString())))
                    .hasMessageContaining(sockA.toString());
            assertThat(svc.exportState("c")).isNull();
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicUnexport("c", false)))
                    .hasMessage("NIC c is not exported");
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicUnexport("zz", false))).hasMessage("no NIC zz");
            assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicExport("c", " ")))
                    .hasMessage("--vhost-user is required");

            // a connected front-end holds the export unless forced
            VhostUserNetDataPathTest.Nic fe = new VhostUserNetDataPathTest.Nic(sockA);
            try {
                assertThatThrownBy(() -> svc.handle(new NetworkRequest.NicUnexport("a", false)))
                        .hasMessage("NIC a is in use: a front-end is connected to " + sockA
                                + "; stop its VM first (or --force to disconnect it)");
                assertThat(sockA).exists();
                NetworkReply r = svc.handle(new NetworkRequest.NicUnexport("a", true));
                assertThat(r.render()).isEqualTo("nic a unexported from " + sockA + " (socket removed)");
            } finally {
                fe.fe.close();
            }
            assertThat(sockA).doesNotExist();
            assertThat(svc.exportState("a")).isNull();
            assertThat(svc.config().nics()).extracting(NetworkReply.NicInfo::name).contains("a");
            // and it may be exported again, anywhere
            svc.handle(new NetworkRequest.NicExport("a", tmp.resolve("a2.sock").toString()));
            assertThat(svc.exportState("a").running()).isTrue();
        }
        try (NetworkService svc = open(state)) {
            assertThat(svc.exportState("a")).isEqualTo(new NicExportState(tmp.resolve("a2.sock"), true, false));
        }
    }
}
