package io.qingtian.card.instance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HypervisorSetupTest {
    @Test
    void coldBootIsMachineThenBootSourceThenDevicesThenInstanceStart() {
        HypervisorSetup.ColdBoot b = new HypervisorSetup.ColdBoot(Path.of("/i/kernel"), Path.of("/i/initramfs"),
                "console=ttyS0", 2, 128, List.of(Path.of("/i/vol-a.sock"), Path.of("/i/vol-b.sock")),
                List.of(new HypervisorSetup.Nic(Path.of("/i/nic.sock"), "02:00:00:00:00:01")));
        List<HypervisorSetup.Call> c = b.calls();
        assertThat(c).extracting(HypervisorSetup.Call::path).containsExactly("/machine-config", "/boot-source",
                "/drives/disk0", "/drives/disk1", "/network-interfaces/net0", "/actions");
        assertThat(c).allSatisfy(x -> assertThat(x.method()).isEqualTo("PUT"));
        assertThat(c.get(0).body()).isEqualTo(Map.of("vcpu_count", 2, "mem_size_mib", 128));
        assertThat(c.get(1).body()).isEqualTo(Map.of("kernel_image_path", "/i/kernel", "initrd_path", "/i/initramfs",
                "boot_args", "console=ttyS0"));
        // Firecracker's vhost-user drive form: the backend's socket, never path_on_host
        assertThat(c.get(3).body()).containsEntry("drive_id", "disk1").containsEntry("socket", "/i/vol-b.sock")
                .containsEntry("is_root_device", false).doesNotContainKey("path_on_host");
        assertThat(c.get(4).body()).isEqualTo(Map.of("iface_id", "net0", "host_dev_name", "/i/nic.sock",
                "guest_mac", "02:00:00:00:00:01"));
        assertThat(c.get(5).body()).isEqualTo(Map.of("action_type", "InstanceStart"));
    }

    @Test
    void optionalBootFieldsAreLeftOutAndRestoreIsOneLoadThatResumes() {
        HypervisorSetup.ColdBoot b = new HypervisorSetup.ColdBoot(Path.of("/k"), null, null, 1, 64, List.of(), List.of());
        assertThat(b.calls().get(1).body()).isEqualTo(Map.of("kernel_image_path", "/k"));
        List<HypervisorSetup.Call> r = new HypervisorSetup.Restore(Path.of("/s/state"), Path.of("/s/memory"), List.of(),
                List.of()).calls();
        assertThat(r).hasSize(1);
        assertThat(r.get(0).path()).isEqualTo("/snapshot/load");
        assertThat(r.get(0).body()).isEqualTo(Map.of("snapshot_path", "/s/state",
                "mem_backend", Map.of("backend_type", "File", "backend_path", "/s/memory"), "resume_vm", true));
    }

    @Test
    void restorePassesTheSocketsTheCardServesNowAsOverridesByDeviceId() {
        // The snapshot names the sockets of the launch it was taken in; the card hands the
        // hypervisor the ones it exported for this launch, under the ids a cold boot gave them.
        List<HypervisorSetup.Call> r = new HypervisorSetup.Restore(Path.of("/s/state"), Path.of("/s/memory"),
                List.of(Path.of("/new/vol-a.sock"), Path.of("/new/vol-b.sock")),
                List.of(new HypervisorSetup.Nic(Path.of("/new/nic.sock"), "02:00:00:00:00:01"))).calls();
        assertThat(r).hasSize(1);
        Map<String, Object> load = r.get(0).body();
        assertThat(load).containsEntry("snapshot_path", "/s/state").containsEntry("resume_vm", true);
        assertThat(load.get("drive_overrides")).isEqualTo(List.of(
                Map.of("drive_id", "disk0", "socket", "/new/vol-a.sock"),
                Map.of("drive_id", "disk1", "socket", "/new/vol-b.sock")));
        // Firecracker's network_overrides: host_dev_name is the NIC's vhost-user-net socket here
        // (the MAC is in the snapshot: a NIC keeps its address across a restore)
        assertThat(load.get("network_overrides")).isEqualTo(List.of(
                Map.of("iface_id", "net0", "host_dev_name", "/new/nic.sock")));
    }

    @Test
    void overrideIdsAreTheIdsOfTheColdBootThatTheSnapshotCameFrom() {
        List<Path> disks = List.of(Path.of("/i/a.sock"), Path.of("/i/b.sock"), Path.of("/i/c.sock"));
        List<HypervisorSetup.Nic> nics = List.of(new HypervisorSetup.Nic(Path.of("/i/n0.sock"), null),
                new HypervisorSetup.Nic(Path.of("/i/n1.sock"), "02:00:00:00:00:02"));
        List<HypervisorSetup.Call> boot = new HypervisorSetup.ColdBoot(Path.of("/k"), null, null, 1, 64, disks, nics).calls();
        Map<String, Object> load = new HypervisorSetup.Restore(Path.of("/s"), Path.of("/m"), disks, nics).calls().get(0).body();
        List<String> bootDrives = boot.stream().filter(c -> c.path().startsWith("/drives/"))
                .map(c -> c.body().get("drive_id") + "=" + c.body().get("socket")).toList();
        List<String> bootIfaces = boot.stream().filter(c -> c.path().startsWith("/network-interfaces/"))
                .map(c -> c.body().get("iface_id") + "=" + c.body().get("host_dev_name")).toList();
        assertThat(((List<?>) load.get("drive_overrides")).stream().map(o -> (Map<?, ?>) o)
                .map(o -> o.get("drive_id") + "=" + o.get("socket")).toList()).isEqualTo(bootDrives);
        assertThat(((List<?>) load.get("network_overrides")).stream().map(o -> (Map<?, ?>) o)
                .map(o -> o.get("iface_id") + "=" + o.get("host_dev_name")).toList()).isEqualTo(bootIfaces);
    }
}
