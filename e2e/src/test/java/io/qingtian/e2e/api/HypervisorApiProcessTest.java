package io.qingtian.e2e.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.e2e.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Firecracker-compatible API of {@code qt hypervisor run --api-sock}, as the card's
 * supervisor uses it: separate hypervisor processes, a real Unix socket, a counting guest on
 * this host's KVM. A snapshot taken in one process is restored in another, and the guest's
 * counter (read from the memory files of two snapshots) continues from where it stopped.
 */
@Tag("kvm")
class HypervisorApiProcessTest {
    @TempDir
    Path dir;

    private static void ok(ApiProcesses.Client c, String method, String path, String json) throws Exception {
        ApiProcesses.Client.Reply r = c.send(method, path, json);
        assertThat(r.status()).as("%s %s %s -> %s", method, path, json, r.body()).isEqualTo(204);
    }

    /**
     * Pauses the running guest and snapshots it, until the counter in the memory file has passed
     * {@code floor} (resumed between tries): waiting for the guest to have counted, not sleeping
     * a guessed time. Leaves the VM paused.
     */
    private static void snapshotOnceCountedPast(ApiProcesses.Client c, Path state, Path mem, long floor) throws Exception {
        Await.until("a snapshot whose counter passed " + floor, () -> {
            ok(c, "PATCH", "/vm", "{\"state\":\"Paused\"}");
            ok(c, "PUT", "/snapshot/create", "{\"snapshot_path\":\"" + state + "\",\"mem_file_path\":\"" + mem + "\"}");
            long n = ApiProcesses.counterIn(mem);
            if (n <= floor) {
                ok(c, "PATCH", "/vm", "{\"state\":\"Resumed\"}");
            }
            return n;
        }, n -> n > floor);
    }

    @Test
    void snapshotInOneProcessRestoresInAnother() throws Exception {
        Path kernel = ApiProcesses.counterKernel(dir);
        Path a = dir.resolve("a.sock");
        Path s1 = dir.resolve("s1.snap");
        Path m1 = dir.resolve("m1.mem");
        Process p1 = ApiProcesses.qt(dir, "p1", "hypervisor", "run", "--api-sock", a.toString(), "--id", "vm-one");
        try {
            ApiProcesses.awaitSocket(a, p1);
            try (ApiProcesses.Client c = new ApiProcesses.Client(a)) {
                assertThat(c.send("GET", "/", null).body()).contains("\"state\":\"Not started\"").contains("\"id\":\"vm-one\"");
                ok(c, "PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}");
                ok(c, "PUT", "/boot-source", "{\"kernel_image_path\":\"" + kernel + "\"}");
                ok(c, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
                assertThat(c.send("GET", "/", null).body()).contains("\"state\":\"Running\"");
                ApiProcesses.Client.Reply again = c.send("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
                assertThat(again.status()).isEqualTo(400);
                assertThat(again.body()).contains("fault_message");
                snapshotOnceCountedPast(c, s1, m1, 0);
            }
        } finally {
            p1.destroy(); // SIGTERM: the process removes its socket
            assertThat(p1.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(Files.exists(a)).as("API socket removed on exit").isFalse();
        assertThat(Files.readString(dir.resolve("p1.out"))).isEqualTo("OK\n");
        long c1 = ApiProcesses.counterIn(m1);
        assertThat(c1).as("the guest counted before the snapshot").isPositive();

        Path b = dir.resolve("b.sock");
        Path s2 = dir.resolve("s2.snap");
        Path m2 = dir.resolve("m2.mem");
        Process p2 = ApiProcesses.qt(dir, "p2", "hypervisor", "run", "--api-sock", b.toString());
        try {
            ApiProcesses.awaitSocket(b, p2);
            try (ApiProcesses.Client c = new ApiProcesses.Client(b)) {
                ok(c, "PUT", "/snapshot/load", "{\"snapshot_path\":\"" + s1 + "\",\"mem_file_path\":\"" + m1 + "\",\"resume_vm\":true}");
                assertThat(c.send("GET", "/", null).body()).contains("\"state\":\"Running\"");
                ApiProcesses.Client.Reply intoRunning = c.send("PUT", "/snapshot/load",
                        "{\"snapshot_path\":\"" + s1 + "\",\"mem_file_path\":\"" + m1 + "\"}");
                assertThat(intoRunning.status()).isEqualTo(400);
                snapshotOnceCountedPast(c, s2, m2, ApiProcesses.counterIn(m1));
            }
        } finally {
            p2.destroy();
            assertThat(p2.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        long c2 = ApiProcesses.counterIn(m2);
        assertThat(c2).as("restored guest continued from %d", c1).isGreaterThan(c1);
        assertThat(ApiProcesses.counterIn(m1)).as("the first memory file is untouched (MAP_PRIVATE)").isEqualTo(c1);
    }

    @Test
    void configFileBootsWithoutApiCalls() throws Exception {
        Path kernel = ApiProcesses.counterKernel(dir);
        Path cfg = Files.writeString(dir.resolve("vm.json"), "{\"boot-source\":{\"kernel_image_path\":\"" + kernel
                + "\",\"boot_args\":\"console=ttyS0\"},\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":64},"
                + "\"drives\":[],\"network-interfaces\":[]}");
        Path sock = dir.resolve("c.sock");
        Process p = ApiProcesses.qt(dir, "cfg", "hypervisor", "run", "--config-file", cfg.toString(), "--api-sock", sock.toString());
        try {
            ApiProcesses.awaitSocket(sock, p);
            try (ApiProcesses.Client c = new ApiProcesses.Client(sock)) {
                assertThat(c.send("GET", "/", null).body()).contains("\"state\":\"Running\"");
                assertThat(c.send("GET", "/machine-config", null).body()).contains("\"vcpu_count\":2").contains("\"mem_size_mib\":64");
            }
            Await.until("the guest's OK on its console", () -> Files.size(dir.resolve("cfg.out")), n -> n >= 3);
        } finally {
            p.destroy();
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(Files.readString(dir.resolve("cfg.out"))).isEqualTo("OK\n");
    }

    @Test
    void badConfigFileIsOneLineWithStatusTwo() throws Exception {
        Path cfg = Files.writeString(dir.resolve("bad.json"), "{\"boot-source\":{\"kernel_image_path\":\"/nonexistent\"},"
                + "\"logger\":{}}");
        Process p = ApiProcesses.qt(dir, "bad", "hypervisor", "run", "--config-file", cfg.toString());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        String err = Files.readString(dir.resolve("bad.err"));
        assertThat(err.lines()).as(err).hasSize(1);
        assertThat(err).startsWith("qt: ").contains("unsupported section 'logger'").doesNotContain("Exception");
    }
}
