package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** META keeps the API's device ids; a load replaces back-end sockets by id and refuses ids it does not have. */
class SnapshotMetaTest {
    private static final PciDevicesConfig DEVICES = new PciDevicesConfig(
            List.of(VhostUserDeviceSpec.parseDisk("socket=/run/card/vol-a.sock,readonly"),
                    VhostUserDeviceSpec.parseDisk("socket=/run/card/vol-b.sock")),
            List.of(VhostUserDeviceSpec.parseNet("socket=/run/card/nic-a.sock,mac=52:54:00:12:34:56")), true);

    private static SnapshotMeta meta() {
        return new SnapshotMeta("x86_64", "test", 2, 64L << 20, DEVICES, 42, List.of("rootfs", "data"), List.of("eth0"));
    }

    @Test
    void deviceIdsSurviveTheJsonRoundTrip() {
        SnapshotMeta back = SnapshotMeta.fromJson(meta().toJson());
        assertThat(back.diskIds()).containsExactly("rootfs", "data");
        assertThat(back.netIds()).containsExactly("eth0");
        assertThat(back.devices().disks()).extracting(VhostUserDeviceSpec::socket)
                .containsExactly(Path.of("/run/card/vol-a.sock"), Path.of("/run/card/vol-b.sock"));
        assertThat(back.devices().disks().getFirst().readOnly()).isTrue();
        assertThat(back.devices().nets().getFirst().mac()).containsExactly(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
    }

    @Test
    void aMetaWithoutIdsGetsTheCliIds() {
        String old = "{\"arch\":\"x86_64\",\"vmm_version\":\"v\",\"vcpus\":1,\"memory_bytes\":67108864,\"rng\":false,"
                + "\"created_ns\":1,\"disks\":[{\"socket\":\"/a.sock\",\"read_only\":false,\"queues\":0}],"
                + "\"nets\":[{\"socket\":\"/n.sock\"},{\"socket\":\"/m.sock\"}]}";
        SnapshotMeta m = SnapshotMeta.fromJson(old.getBytes(StandardCharsets.UTF_8));
        assertThat(m.diskIds()).containsExactly("disk0");
        assertThat(m.netIds()).containsExactly("net0", "net1");
    }

    @Test
    void overridesReplaceOnlyTheNamedDevicesSockets() {
        SnapshotMeta m = meta().withSockets(Map.of("data", Path.of("/new/vol-b.sock")), Map.of("eth0", Path.of("/new/nic.sock")));
        assertThat(m.devices().disks()).extracting(VhostUserDeviceSpec::socket)
                .containsExactly(Path.of("/run/card/vol-a.sock"), Path.of("/new/vol-b.sock"));
        assertThat(m.devices().disks().get(1).readOnly()).isFalse();
        assertThat(m.devices().disks().get(0).readOnly()).isTrue();
        assertThat(m.devices().nets().getFirst().socket()).isEqualTo(Path.of("/new/nic.sock"));
        assertThat(m.devices().nets().getFirst().mac()).as("the guest keeps its MAC").containsExactly(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
        assertThat(m.devices().rng()).isTrue();
        assertThat(m.diskIds()).containsExactly("rootfs", "data");
        assertThat(SnapshotMeta.fromJson(m.toJson()).devices().nets().getFirst().socket()).isEqualTo(Path.of("/new/nic.sock"));
    }

    @Test
    void anUnknownIdIsRefusedNamingTheIdsTheSnapshotHas() {
        assertThatThrownBy(() -> meta().withSockets(Map.of(), Map.of("eth9", Path.of("/x.sock"))))
                .isInstanceOf(SnapshotException.class)
                .hasMessageContaining("no network interface 'eth9'").hasMessageContaining("eth0");
        assertThatThrownBy(() -> meta().withSockets(Map.of("boot", Path.of("/x.sock")), Map.of()))
                .isInstanceOf(SnapshotException.class)
                .hasMessageContaining("no drive 'boot'").hasMessageContaining("rootfs, data");
        SnapshotMeta none = new SnapshotMeta("x86_64", "t", 1, 64L << 20, new PciDevicesConfig(List.of(), List.of(), false), 0);
        assertThatThrownBy(() -> none.withSockets(Map.of(), Map.of("eth0", Path.of("/x.sock"))))
                .hasMessageContaining("(it has none)");
    }

    @Test
    void aMetaNamingAnIdTwiceIsRefused() {
        String dup = "{\"arch\":\"x86_64\",\"vmm_version\":\"v\",\"vcpus\":1,\"memory_bytes\":67108864,\"rng\":false,"
                + "\"created_ns\":1,\"nets\":[{\"id\":\"eth0\",\"socket\":\"/n.sock\"},{\"id\":\"eth0\",\"socket\":\"/m.sock\"}]}";
        assertThatThrownBy(() -> SnapshotMeta.fromJson(dup.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SnapshotException.class).hasMessageContaining("twice");
        String badId = "{\"arch\":\"x86_64\",\"vmm_version\":\"v\",\"vcpus\":1,\"memory_bytes\":67108864,\"rng\":false,"
                + "\"created_ns\":1,\"nets\":[{\"id\":7,\"socket\":\"/n.sock\"}]}";
        assertThatThrownBy(() -> SnapshotMeta.fromJson(badId.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SnapshotException.class).hasMessageContaining("'id'");
    }
}
