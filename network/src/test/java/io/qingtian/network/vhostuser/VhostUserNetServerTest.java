package io.qingtian.network.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.service.NetworkBackends;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A NIC's export says a front-end holds it from the moment it connects, before any ring
 * starts (the port's link is still down then): what {@code nic delete} checks.
 */
class VhostUserNetServerTest {
    @TempDir
    Path dir;

    @Test
    void aConnectedFrontEndIsSeenBeforeItsRingsStart() throws Exception {
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        Port p = sw.createPort("a", "s", null, null, List.of(), null);
        try (VhostUserNetServer server = VhostUserNetServer.start(sw, p, dir.resolve("a.sock"))) {
            NetworkBackends.Export export = server;
            assertThat(export.connected()).isFalse();
            try (SocketChannel fe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                fe.connect(UnixDomainSocketAddress.of(server.socketPath()));
                long deadline = System.nanoTime() + 60_000_000_000L; // ends when the condition holds
                while (!export.connected() && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertThat(export.connected()).isTrue();
                assertThat(p.linkUp()).isFalse(); // no ring started: only the export knows
            }
            long deadline = System.nanoTime() + 60_000_000_000L; // ends when the condition holds
            while (export.connected() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(export.connected()).isFalse();
        }
    }
}
