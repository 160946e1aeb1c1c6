package io.qingtian.hypervisor.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.snapshot.CounterGuest;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.virtio.blk.BlockBackend;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PUT /snapshot/load with back-end overrides (Firecracker's network_overrides, and our
 * drive_overrides): a VM with a card-style vhost-user-blk drive is snapshotted, its back-end
 * moves to a new socket, and the load names the new socket by drive id. Unknown ids, missing
 * sockets and malformed overrides are 400s in Firecracker's error shape that build nothing.
 */
@Tag("kvm")
class SnapshotOverridesKvmTest {
    @TempDir
    Path dir;

    /** A 1 MiB in-memory disk (the guest never reads it: only the connection matters here). */
    static final class Disk implements BlockBackend {
        final byte[] data = new byte[1 << 20];
        @Override public long sizeBytes() { return data.length; }
        @Override public boolean readOnly() { return false; }
        @Override public synchronized void read(long offset, MemorySegment dst) {
            MemorySegment.copy(data, (int) offset, dst, ValueLayout.JAVA_BYTE, 0, (int) dst.byteSize());
        }
        @Override public synchronized void write(long offset, MemorySegment src) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, data, (int) offset, (int) src.byteSize());
        }
        @Override public void flush() { }
        @Override public void discard(long offset, long length) { }
        @Override public void writeZeroes(long offset, long length, boolean unmap) { }
        @Override public String serial() { return "overrides-test"; }
        @Override public void close() { }
    }

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

    @Test
    void aDriveMovedToANewSocketIsNamedByIdAtLoad() throws Exception {
        Path state = dir.resolve("vm.snap");
        Path mem = dir.resolve("vm.mem");
        Path aSock = dir.resolve("vol-a.sock");
        Path bSock = dir.resolve("vol-b.sock");
        Disk disk = new Disk();
        long saved;
        try (VhostUserBlkServer a = VhostUserBlkServer.start(aSock, disk, 1, false);
             ApiFixture vm = new ApiFixture(dir.resolve("a.api"))) {
            vm.ok("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}");
            vm.ok("PUT", "/boot-source", "{\"kernel_image_path\":\"" + CounterGuest.kernel(dir) + "\"}");
            vm.ok("PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_root_device\":true,\"socket\":\"" + aSock + "\"}");
            vm.ok("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
            awaitAbove(vm, 1000);
            vm.ok("PATCH", "/vm", "{\"state\":\"Paused\"}");
            saved = counter(vm);
            vm.ok("PUT", "/snapshot/create", "{\"snapshot_path\":\"" + state + "\",\"mem_file_path\":\"" + mem + "\"}");
        }
        assertThat(Files.exists(aSock)).as("the old back-end is gone").isFalse();

        try (VhostUserBlkServer b = VhostUserBlkServer.start(bSock, disk, 1, false);
             ApiFixture r = new ApiFixture(dir.resolve("b.api"))) {
            // The KVM VM a waiting hypervisor makes ahead (ApiRunner does this after its prewarm).
            io.qingtian.hypervisor.VmBuilder.Shell shell = io.qingtian.hypervisor.VmBuilder.Shell.create();
            r.vmm.offerStandby(shell);
            String base = "\"snapshot_path\":\"" + state + "\",\"mem_file_path\":\"" + mem + "\",\"resume_vm\":true";
            String load = "/snapshot/load";
            r.fault("PUT", load, "{" + base + "}", "drive 'rootfs': its vhost-user back-end socket " + aSock + " does not exist");
            r.fault("PUT", load, "{" + base + ",\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"" + bSock + "\"}]}",
                    "the snapshot has no network interface 'eth0' (it has none)");
            r.fault("PUT", load, "{" + base + ",\"drive_overrides\":[{\"drive_id\":\"data\",\"socket\":\"" + bSock + "\"}]}",
                    "the snapshot has no drive 'data' (it has rootfs)");
            r.fault("PUT", load, "{" + base + ",\"drive_overrides\":[{\"drive_id\":\"rootfs\",\"socket\":\"" + dir.resolve("none.sock")
                    + "\"}]}", "does not exist");
            r.fault("PUT", load, "{" + base + ",\"drive_overrides\":[{\"drive_id\":\"rootfs\",\"socket\":\"" + mem + "\"}]}",
                    "is not a socket");
            r.fault("PUT", load, "{" + base + ",\"drive_overrides\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"/disk.img\"}]}",
                    "path_on_host is not supported");
            r.fault("PUT", load, "{" + base + ",\"drive_overrides\":[{\"drive_id\":\"rootfs\",\"socket\":\"" + bSock + "\"},"
                    + "{\"drive_id\":\"rootfs\",\"socket\":\"" + bSock + "\"}]}", "overridden twice");
            r.fault("PUT", load, "{" + base + ",\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}]}",
                    "no TAP devices");
            r.fault("PUT", load, "{" + base + ",\"network_overrides\":[{\"iface_id\":\"eth0\"}]}", "missing required field 'host_dev_name'");
            r.fault("PUT", load, "{" + base + ",\"network_overrides\":{\"iface_id\":\"eth0\"}}", "must be an array");
            r.fault("PUT", load, "{" + base + ",\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"/x\",\"mtu\":1}]}",
                    "unknown field 'mtu'");
            assertThat(r.state()).as("every refusal left the hypervisor fresh").isEqualTo("Not started");
            assertThat(b.connected()).as("no refused load connected to a back-end").isFalse();
            assertThat(r.vmm.hasStandby()).as("refused before anything was built: the standby VM waits on").isTrue();

            // drive_overrides is ours (not in Firecracker's document): sent without the schema check.
            UnixHttp.Reply ok = r.call("PUT", load, "{" + base + ",\"drive_overrides\":[{\"drive_id\":\"rootfs\",\"socket\":\""
                    + bSock + "\"}]}");
            assertThat(ok.status()).as(ok.body()).isEqualTo(204);
            assertThat(r.state()).isEqualTo("Running");
            assertThat(awaitAbove(r, saved + 1000)).isGreaterThan(saved);
            assertThat(b.connected()).as("the restored drive's back-end is the new socket").isTrue();
            assertThat(r.vmm.vm().kvmVm()).as("the restore built on the standby VM").isSameAs(shell.vm());
            assertThat(r.vmm.vm().vcpus().getFirst()).as("and its vCPU 0").isSameAs(shell.vcpu0());
            assertThat(r.vmm.hasStandby()).isFalse();
        }
    }
}
