package io.qingtian.e2e.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --timeout} is absolute: counted from the start of the command, the VM build
 * included. A vhost-user back-end that accepts the connection and never answers holds the
 * build (its handshake waits for a reply); the run still ends at the timeout with STOPPED (6)
 * and one line saying where the build was. The packaged CLI in a child process, as in
 * {@link HypervisorCliTest}.
 */
@Tag("kvm")
class HypervisorTimeoutCliTest {
    /** spin: jmp $ */
    static final byte[] SPIN = {(byte) 0xeb, (byte) 0xfe};

    @TempDir
    Path dir;

    ServerSocketChannel silent;
    Path sock;
    final List<SocketChannel> accepted = new CopyOnWriteArrayList<>();

    @BeforeEach
    void silentBackEnd() throws Exception {
        sock = dir.resolve("silent.sock");
        silent = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        silent.bind(UnixDomainSocketAddress.of(sock));
        Thread.ofVirtual().start(() -> {
            try {
                while (true) {
                    accepted.add(silent.accept()); // accepted, never read, never answered
                }
            } catch (Exception e) {
                // closed at the end of the test
            }
        });
    }

    @AfterEach
    void close() throws Exception {
        silent.close();
        for (SocketChannel c : accepted) {
            c.close();
        }
    }

    private static void assertStoppedWhileBuilding(HypervisorCliTest.Run r, long millis) {
        assertThat(r.status()).as("stderr: %s", r.stderr()).isEqualTo(6);
        assertThat(millis).as("ends at the timeout, not at the back-end's reply bound (30 s)").isLessThan(15_000L);
        assertThat(r.stderr().lines().filter(l -> l.startsWith("qt: stopped after the 2 s timeout while the VM was still being built")))
                .as("stderr: %s", r.stderr()).hasSize(1);
        assertThat(r.stderr()).as("where the build waited").contains("VhostUserSocket.awaitReadable");
        assertThat(r.stderr()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void aBackEndThatNeverAnswersDoesNotOutliveTheTimeout() throws Exception {
        Path k = HypervisorCliTest.bzImage(dir, 0x020f, SPIN);
        long t0 = System.nanoTime();
        HypervisorCliTest.Run r = HypervisorCliTest.qt("hypervisor", "run", "--kernel", k.toString(), "--timeout", "2",
                "--disk", "socket=" + sock, "--no-rng");
        assertStoppedWhileBuilding(r, (System.nanoTime() - t0) / 1_000_000);
        assertThat(accepted).as("the hypervisor did connect").isNotEmpty();
    }

    @Test
    void theApiModeCountsTheBuildToo() throws Exception {
        Path k = HypervisorCliTest.bzImage(dir, 0x020f, SPIN);
        long t0 = System.nanoTime();
        HypervisorCliTest.Run r = HypervisorCliTest.qt("hypervisor", "run", "--api-sock", dir.resolve("api.sock").toString(),
                "--kernel", k.toString(), "--timeout", "2", "--disk", "socket=" + sock);
        assertStoppedWhileBuilding(r, (System.nanoTime() - t0) / 1_000_000);
    }

    @Test
    void aGuestThatRunsOnIsStoppedAtTheTimeout() throws Exception {
        Path k = HypervisorCliTest.bzImage(dir, 0x020f, SPIN);
        long t0 = System.nanoTime();
        HypervisorCliTest.Run r = HypervisorCliTest.qt("hypervisor", "run", "--kernel", k.toString(), "--timeout", "2", "--no-rng");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r.status()).as("stderr: %s", r.stderr()).isEqualTo(6);
        assertThat(r.stderr()).contains("stopped after the 2 s timeout (exit status 6)");
        assertThat(ms).isLessThan(15_000L);
    }

    @Test
    void aTimeoutBelowOneSecondIsBadInput() throws Exception {
        Path k = HypervisorCliTest.bzImage(dir, 0x020f, SPIN);
        HypervisorCliTest.assertOneLineError(HypervisorCliTest.qt("hypervisor", "run", "--kernel", k.toString(), "--timeout", "0"),
                "--timeout must be at least 1 second");
    }
}
