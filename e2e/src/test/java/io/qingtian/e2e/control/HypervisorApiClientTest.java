package io.qingtian.e2e.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.card.instance.HypervisorApi;
import io.qingtian.card.instance.HypervisorSetup;
import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.api.ApiServer;
import io.qingtian.hypervisor.api.FirecrackerApi;
import io.qingtian.hypervisor.api.VmmController;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The card's Unix-socket client ({@link HypervisorApi}) against the hypervisor's real API server (no VM is started). */
class HypervisorApiClientTest {
    @TempDir
    Path tmp;

    @Test
    void talksToTheHypervisorsApiAndReturnsItsFaultMessages() throws Exception {
        Path sock = tmp.resolve("fc.sock");
        VmmController vmm = new VmmController("i-1", new Console(new ByteArrayOutputStream(), null));
        try (ApiServer server = ApiServer.start(sock, new FirecrackerApi(vmm))) {
            HypervisorApi api = new HypervisorApi(sock);
            assertThat(api.listening()).isTrue();
            HypervisorApi.Reply info = api.get("/", Duration.ofSeconds(30));
            assertThat(info.status()).isEqualTo(200);
            assertThat(info.body().get("id").asText()).isEqualTo("i-1");
            assertThat(info.body().get("state").asText()).isEqualTo("Not started");
            assertThat(api.put("/machine-config", Map.of("vcpu_count", 2, "mem_size_mib", 64), Duration.ofSeconds(30)).status())
                    .isEqualTo(204);
            assertThat(vmm.vcpuCount()).isEqualTo(2);

            assertThatThrownBy(() -> api.patch("/vm", Map.of("state", "Paused"), Duration.ofSeconds(30)))
                    .isInstanceOfSatisfying(HypervisorApi.Fault.class, f -> {
                        assertThat(f.status()).isEqualTo(400);
                        assertThat(f.request()).isEqualTo("PATCH /vm");
                        assertThat(f.faultMessage()).isEqualTo("cannot pause: the VM has not started");
                    });

            // a cold boot whose drive the hypervisor refuses stops at that request, with its message
            Path kernel = Files.write(tmp.resolve("k"), TinyKernel.bzImage());
            HypervisorSetup bad = new HypervisorSetup.ColdBoot(kernel, null, null, 1, 64, List.of(Path.of("a,b")), List.of());
            assertThatThrownBy(() -> bad.apply(api, Duration.ofSeconds(30)))
                    .isInstanceOfSatisfying(HypervisorApi.Fault.class, f -> {
                        assertThat(f.request()).isEqualTo("PUT /drives/disk0");
                        assertThat(f.getMessage()).startsWith("PUT /drives/disk0: 400 ").contains("invalid socket path 'a,b'");
                    });
            assertThat(vmm.state()).isEqualTo(VmmController.State.NOT_STARTED);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(120) // a client without a working deadline would wait forever
    void aHypervisorThatDoesNotAnswerTimesOutAndAMissingOneIsStatusZero() throws Exception {
        Path sock = tmp.resolve("mute.sock");
        try (ServerSocketChannel mute = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            mute.bind(UnixDomainSocketAddress.of(sock));
            // The peer accepts and then says nothing and keeps the connection open until the
            // client has given up: only the client's own deadline can end the call (no
            // assertion on elapsed time, which a loaded machine stretches).
            java.util.concurrent.CountDownLatch gaveUp = new java.util.concurrent.CountDownLatch(1);
            Thread acceptor = Thread.ofVirtual().start(() -> {
                try (SocketChannel c = mute.accept()) {
                    gaveUp.await();
                } catch (Exception ignored) {
                    // closed by the test
                }
            });
            try {
                assertThatThrownBy(() -> new HypervisorApi(sock).get("/", Duration.ofMillis(300)))
                        .isInstanceOfSatisfying(HypervisorApi.Fault.class, f -> {
                            assertThat(f.status()).isZero();
                            assertThat(f.faultMessage()).isEqualTo("no answer within 300 ms");
                        });
            } finally {
                gaveUp.countDown();
            }
            acceptor.join();
        }
        HypervisorApi gone = new HypervisorApi(tmp.resolve("nothing.sock"));
        assertThat(gone.listening()).isFalse();
        assertThatThrownBy(() -> gone.get("/", Duration.ofSeconds(1)))
                .isInstanceOfSatisfying(HypervisorApi.Fault.class, f -> assertThat(f.status()).isZero());
    }
}
