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
        List<HypervisorSetup.Call> r = new HypervisorSetup.Restore(Path.of("/s/state"), Path.of("/s/memory")).calls();
        assertThat(r).hasSize(1);
        assertThat(r.get(0).path()).isEqualTo("/snapshot/load");
        assertThat(r.get(0).body()).isEqualTo(Map.of("snapshot_path", "/s/state",
                "mem_backend", Map.of("backend_type", "File", "backend_path", "/s/memory"), "resume_vm", true));
    }
}
