package io.qingtian.e2e.card;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card process SIGKILLed with a front-end on its NIC and started again on the same state
 * directory: the network service comes back with its VPC, subnet, security group and NICs and
 * serves each NIC's vhost-user export on its socket again (one outside the state directory, one
 * inside it); a new front-end's frames cross the switch. And {@code qt card nic unexport} over
 * the restarted card's control socket: refused while a front-end is connected, then the socket
 * goes; unexporting it again or exporting a served NIC twice are one-line errors.
 */
class CardNicRestartTest {
    private static final MacAddress MAC_A = MacAddress.parse("02:00:00:00:01:0a");
    private static final MacAddress MAC_B = MacAddress.parse("02:00:00:00:01:0b");

    @TempDir
    Path tmp;

    private static void frameCrosses(Path a, Path b, int tag) throws Exception {
        try (NetFrontend fa = new NetFrontend(a); NetFrontend fb = new NetFrontend(b)) {
            byte[] payload = new byte[40];
            java.util.Arrays.fill(payload, (byte) tag);
            byte[] f = Frames.udp(MAC_A, MAC_B, Ipv4Address.parse("10.0.1.2"), Ipv4Address.parse("10.0.1.3"), 1000, 2000,
                    payload);
            // b's receive ring may start a moment after the handshake: send until one arrives
            byte[] got = null;
            for (int i = 0; i < 20 && got == null; i++) {
                fa.send(f);
                got = fb.receive(3);
            }
            assertThat(got).as("a frame from a reached b").isEqualTo(f);
        }
    }

    @Test
    void nicExportsComeBackAfterTheCardIsKilled() throws Exception {
        Path state = tmp.resolve("state");
        String st = state.toString();
        Path sockA = Files.createDirectories(tmp.resolve("socks")).resolve("a.sock");
        Path sockB = state.resolve("b.sock");
        try (CardProcess card = CardProcess.start(state)) {
            Qt.ok("card", "vpc", "create", "v", "--cidr", "10.0.0.0/16", "--state", st);
            Qt.ok("card", "subnet", "create", "s", "--vpc", "v", "--cidr", "10.0.1.0/24", "--state", st);
            Qt.ok("card", "sg", "create", "g", "--state", st);
            Qt.ok("card", "sg", "rule", "add", "g", "--proto", "udp", "--from", "10.0.0.0/16", "--state", st);
            Qt.ok("card", "nic", "create", "a", "--subnet", "s", "--ip", "10.0.1.2", "--mac", MAC_A.toString(), "--sg", "g",
                    "--state", st);
            Qt.ok("card", "nic", "create", "b", "--subnet", "s", "--ip", "10.0.1.3", "--mac", MAC_B.toString(), "--sg", "g",
                    "--state", st);
            Qt.ok("card", "nic", "export", "a", "--vhost-user", sockA.toString(), "--state", st);
            Qt.ok("card", "nic", "export", "b", "--vhost-user", sockB.toString(), "--state", st);
            frameCrosses(sockA, sockB, 1);
            // killed with a front-end connected: no shutdown, the socket files stay behind
            try (NetFrontend held = new NetFrontend(sockA)) {
                card.kill9();
            }
        }
        assertThat(sockA).exists();
        assertThat(sockB).exists();
        try (CardProcess card = CardProcess.start(state)) {
            assertThat(card.log()).doesNotContain("cannot export");
            assertThat(Qt.ok("card", "network", "show", "--state", st))
                    .contains("nic a exported at " + sockA, "nic b exported at " + sockB);
            frameCrosses(sockA, sockB, 2);
            assertThat(Qt.ok("card", "nic", "stats", "b", "--state", st)).contains("tx (to guest)   packets ");

            Qt.Result twice = Qt.run("card", "nic", "export", "a", "--vhost-user", tmp.resolve("x.sock").toString(), "--state", st);
            assertThat(twice.exit()).isEqualTo(2);
            assertThat(twice.err().strip()).isEqualTo("qt: NIC a is already exported at " + sockA
                    + " (nic unexport first to move it)");
            try (NetFrontend held = new NetFrontend(sockA)) {
                Qt.Result busy = Qt.run("card", "nic", "unexport", "a", "--state", st);
                assertThat(busy.exit()).isEqualTo(2);
                assertThat(busy.err()).contains("NIC a is in use: a front-end is connected to " + sockA);
                assertThat(sockA).exists();
            }
            long deadline = System.nanoTime() + 30_000_000_000L; // ends when the card saw the front-end go
            Qt.Result r;
            while ((r = Qt.run("card", "nic", "unexport", "a", "--state", st)).exit() != 0) {
                assertThat(System.nanoTime()).as(r.err()).isLessThan(deadline);
                Thread.sleep(100);
            }
            assertThat(r.out().strip()).isEqualTo("nic a unexported from " + sockA + " (socket removed)");
            assertThat(sockA).doesNotExist();
            Qt.Result again = Qt.run("card", "nic", "unexport", "a", "--state", st);
            assertThat(again.exit()).isEqualTo(2);
            assertThat(again.err().strip()).isEqualTo("qt: NIC a is not exported");
            assertThat(card.terminate()).isEqualTo(143); // SIGTERM: clean stop through the shutdown hook
        }
        assertThat(sockB).as("a clean stop removes the socket").doesNotExist();
    }
}
