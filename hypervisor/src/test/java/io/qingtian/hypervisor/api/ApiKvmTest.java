package io.qingtian.hypervisor.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.snapshot.CounterGuest;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The VM lifecycle over the real API socket on this host's KVM, with a guest that counts in
 * its memory: configure, start, pause (the counter stops), resume (it moves), snapshot, and
 * restore into a second hypervisor, where the counter continues from the snapshot's value.
 */
@Tag("kvm")
class ApiKvmTest {
    @TempDir
    Path dir;

    private static long counter(ApiFixture api) throws Exception {
        return CounterGuest.counter(api.vmm.vm().ram().memory());
    }

    private static long awaitAbove(ApiFixture api, long floor) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        long c;
        while ((c = counter(api)) <= floor) {
            assertThat(System.nanoTime()).as("counter passes %d", floor).isLessThan(deadline);
            Thread.sleep(2);
        }
        return c;
    }

    private String snapshotBody(Path state, Path mem) {
        return "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"" + state + "\",\"mem_file_path\":\"" + mem + "\"}";
    }

    @Test
    void configureStartPauseResumeSnapshotRestore() throws Exception {
        Path state = dir.resolve("vm.snap");
        Path mem = dir.resolve("vm.mem");
        long saved;
        try (ApiFixture a = new ApiFixture(dir.resolve("a.sock"))) {
            a.ok("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":64}");
            a.ok("PUT", "/boot-source", "{\"kernel_image_path\":\"" + CounterGuest.kernel(dir) + "\",\"boot_args\":\"console=ttyS0\"}");
            a.ok("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
            assertThat(a.state()).isEqualTo("Running");
            awaitAbove(a, 1000);

            // Wrong states: refused, nothing changes.
            a.fault("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", "not allowed after the VM started");
            a.fault("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}", "not allowed after the VM started");
            a.fault("PUT", "/snapshot/create", snapshotBody(state, mem), "must be paused");
            a.fault("PUT", "/snapshot/load", "{\"snapshot_path\":\"" + state + "\",\"mem_file_path\":\"" + mem + "\"}",
                    "not allowed after the VM started");
            assertThat(a.state()).isEqualTo("Running");
            long running = counter(a);
            awaitAbove(a, running);

            a.ok("PATCH", "/vm", "{\"state\":\"Paused\"}");
            assertThat(a.state()).isEqualTo("Paused");
            long frozen = counter(a);
            Thread.sleep(200);
            assertThat(counter(a)).as("no guest progress while paused").isEqualTo(frozen);
            a.ok("PATCH", "/vm", "{\"state\":\"Paused\"}"); // idempotent, as in Firecracker
            a.ok("PATCH", "/vm", "{\"state\":\"Resumed\"}");
            assertThat(a.state()).isEqualTo("Running");
            awaitAbove(a, frozen);

            a.ok("PATCH", "/vm", "{\"state\":\"Paused\"}");
            saved = counter(a);
            a.ok("PUT", "/snapshot/create", snapshotBody(state, mem));
            assertThat(a.state()).isEqualTo("Paused");
            assertThat(counter(a)).isEqualTo(saved);
            assertThat(Files.size(mem)).isEqualTo(64L << 20);
            // A snapshot to a directory that does not exist: 400, still paused, nothing left behind.
            a.fault("PUT", "/snapshot/create", snapshotBody(dir.resolve("no/such/s"), dir.resolve("no/such/m")), "cannot write");
            assertThat(a.state()).isEqualTo("Paused");
            assertThat(a.console.toString()).isEqualTo("OK\n");
        }

        // A corrupt snapshot is a clear 400 and the fresh hypervisor stays Not started.
        Path corrupt = dir.resolve("corrupt.snap");
        Files.copy(state, corrupt);
        try (RandomAccessFile f = new RandomAccessFile(corrupt.toFile(), "rw")) {
            f.seek(f.length() - 10);
            int b = f.read();
            f.seek(f.length() - 10);
            f.write(b ^ 0xff);
        }
        try (ApiFixture b = new ApiFixture(dir.resolve("b.sock"))) {
            b.fault("PUT", "/snapshot/load", "{\"snapshot_path\":\"" + corrupt + "\",\"mem_file_path\":\"" + mem + "\"}", "CRC mismatch");
            b.fault("PUT", "/snapshot/load", "{\"snapshot_path\":\"" + mem + "\",\"mem_file_path\":\"" + mem + "\"}", "bad magic");
            assertThat(b.state()).isEqualTo("Not started");

            b.ok("PUT", "/snapshot/load", "{\"snapshot_path\":\"" + state + "\",\"mem_backend\":{\"backend_type\":\"File\","
                    + "\"backend_path\":\"" + mem + "\"},\"resume_vm\":false}");
            assertThat(b.state()).isEqualTo("Paused");
            assertThat(counter(b)).isEqualTo(saved);
            Thread.sleep(100);
            assertThat(counter(b)).as("loaded paused: no progress").isEqualTo(saved);
            b.fault("PUT", "/snapshot/load", "{\"snapshot_path\":\"" + state + "\",\"mem_file_path\":\"" + mem + "\"}",
                    "not allowed after the VM started");
            UnixHttp.Reply mc = b.call("GET", "/machine-config", null);
            assertThat(ApiFixture.JSON.readTree(mc.body()).get("vcpu_count").asInt()).isEqualTo(2);
            b.ok("PATCH", "/vm", "{\"state\":\"Resumed\"}");
            long after = awaitAbove(b, saved + 1000);
            assertThat(after).isGreaterThan(saved);
            assertThat(b.state()).isEqualTo("Running");
        }
    }
}
