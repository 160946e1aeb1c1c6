package io.qingtian.hypervisor.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec;
import io.qingtian.sys.UserError;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The META section: what the snapshot describes, so a restore can rebuild the same machine
 * and refuse one it cannot (another architecture, a memory file of the wrong size).
 *
 * @param arch         "x86_64"
 * @param vmmVersion   the writer's version (informational)
 * @param vcpus        number of vCPUs
 * @param memoryBytes  guest RAM; the memory file must be exactly this long
 * @param devices      the PCI devices: vhost-user disks and NICs (their back-end sockets,
 *                     which the restoring hypervisor connects to) and whether virtio-rng is present
 * @param createdNanos wall-clock time of the snapshot (epoch ns, informational)
 * @param diskIds      the API's drive_id of each disk, in {@code devices.disks()} order
 * @param netIds       the API's iface_id of each NIC, in {@code devices.nets()} order
 */
public record SnapshotMeta(String arch, String vmmVersion, int vcpus, long memoryBytes, PciDevicesConfig devices,
                           long createdNanos, List<String> diskIds, List<String> netIds) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public SnapshotMeta {
        diskIds = List.copyOf(diskIds);
        netIds = List.copyOf(netIds);
        if (diskIds.size() != devices.disks().size() || netIds.size() != devices.nets().size()) {
            throw new IllegalArgumentException("one id per device: " + diskIds + " " + netIds);
        }
        if (new java.util.HashSet<>(diskIds).size() != diskIds.size() || new java.util.HashSet<>(netIds).size() != netIds.size()) {
            throw new SnapshotException("snapshot META names a device id twice: drives " + diskIds + ", interfaces " + netIds);
        }
    }

    /** Devices with the ids the CLI gives them ({@code disk0..}, {@code net0..}: HypervisorCommand). */
    public SnapshotMeta(String arch, String vmmVersion, int vcpus, long memoryBytes, PciDevicesConfig devices,
                        long createdNanos) {
        this(arch, vmmVersion, vcpus, memoryBytes, devices, createdNanos, defaultIds("disk", devices.disks().size()),
                defaultIds("net", devices.nets().size()));
    }

    /** {@code prefix0 .. prefix(n-1)}: the ids of devices a snapshot does not name (written before ids were saved). */
    public static List<String> defaultIds(String prefix, int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(prefix + i);
        }
        return out;
    }

    /**
     * The same snapshot with some back-end sockets replaced (PUT /snapshot/load's
     * {@code drive_overrides} and {@code network_overrides}), keyed by device id. An id the
     * snapshot does not have is a {@link SnapshotException} naming the ids it has.
     */
    public SnapshotMeta withSockets(java.util.Map<String, Path> driveSockets, java.util.Map<String, Path> netSockets) {
        List<VhostUserDeviceSpec> disks = replaceSockets(devices.disks(), diskIds, driveSockets, "drive");
        List<VhostUserDeviceSpec> nets = replaceSockets(devices.nets(), netIds, netSockets, "network interface");
        return new SnapshotMeta(arch, vmmVersion, vcpus, memoryBytes, new PciDevicesConfig(disks, nets, devices.rng()),
                createdNanos, diskIds, netIds);
    }

    private static List<VhostUserDeviceSpec> replaceSockets(List<VhostUserDeviceSpec> specs, List<String> ids,
                                                            java.util.Map<String, Path> sockets, String what) {
        for (String id : sockets.keySet()) {
            if (!ids.contains(id)) {
                throw new SnapshotException("the snapshot has no " + what + " '" + id + "' (it has "
                        + (ids.isEmpty() ? "none" : String.join(", ", ids)) + ")");
            }
        }
        List<VhostUserDeviceSpec> out = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            VhostUserDeviceSpec d = specs.get(i);
            Path socket = sockets.get(ids.get(i));
            out.add(socket == null ? d : new VhostUserDeviceSpec(d.kind(), socket, d.readOnly(), d.queues(), d.mac()));
        }
        return out;
    }

    public boolean rng() {
        return devices.rng();
    }

    byte[] toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("arch", arch).put("vmm_version", vmmVersion).put("vcpus", vcpus).put("memory_bytes", memoryBytes)
                .put("rng", devices.rng()).put("created_ns", createdNanos);
        ArrayNode disks = o.putArray("disks");
        for (int i = 0; i < devices.disks().size(); i++) {
            VhostUserDeviceSpec d = devices.disks().get(i);
            disks.addObject().put("id", diskIds.get(i)).put("socket", d.socket().toString()).put("read_only", d.readOnly())
                    .put("queues", d.queues());
        }
        ArrayNode nets = o.putArray("nets");
        for (int i = 0; i < devices.nets().size(); i++) {
            VhostUserDeviceSpec n = devices.nets().get(i);
            ObjectNode e = nets.addObject().put("id", netIds.get(i)).put("socket", n.socket().toString());
            if (n.mac() != null) {
                e.put("mac", HexFormat.ofDelimiter(":").formatHex(n.mac()));
            }
        }
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    static SnapshotMeta fromJson(byte[] json) {
        try {
            JsonNode o = JSON.readTree(json);
            if (o == null || !o.isObject()) {
                throw new SnapshotException("snapshot META is not a JSON object");
            }
            for (String f : new String[] {"arch", "vmm_version", "vcpus", "memory_bytes", "rng", "created_ns"}) {
                if (!o.has(f)) {
                    throw new SnapshotException("snapshot META has no '" + f + "'");
                }
            }
            List<VhostUserDeviceSpec> disks = new ArrayList<>();
            List<String> diskIds = new ArrayList<>();
            for (JsonNode d : array(o, "disks")) {
                disks.add(new VhostUserDeviceSpec(VhostUserDeviceSpec.Kind.BLOCK, socket(d), d.path("read_only").asBoolean(),
                        d.path("queues").asInt(), null));
                diskIds.add(id(d, "disk", diskIds.size()));
            }
            List<VhostUserDeviceSpec> nets = new ArrayList<>();
            List<String> netIds = new ArrayList<>();
            for (JsonNode n : array(o, "nets")) {
                String mac = n.path("mac").asText(null);
                nets.add(VhostUserDeviceSpec.parseNet("socket=" + socket(n) + (mac == null ? "" : ",mac=" + mac)));
                netIds.add(id(n, "net", netIds.size()));
            }
            PciDevicesConfig devices = new PciDevicesConfig(disks, nets, o.get("rng").asBoolean());
            return new SnapshotMeta(o.get("arch").asText(), o.get("vmm_version").asText(), o.get("vcpus").asInt(),
                    o.get("memory_bytes").asLong(), devices, o.get("created_ns").asLong(), diskIds, netIds);
        } catch (java.io.IOException e) {
            throw new SnapshotException("snapshot META is not valid JSON: " + e.getMessage());
        } catch (UserError | InvalidPathException e) {
            throw new SnapshotException("snapshot META describes an invalid device: " + e.getMessage());
        }
    }

    /** An optional array (absent in version-1 files, which had no vhost-user devices). */
    private static Iterable<JsonNode> array(JsonNode o, String field) {
        JsonNode a = o.get(field);
        if (a == null) {
            return List.of();
        }
        if (!a.isArray()) {
            throw new SnapshotException("snapshot META '" + field + "' is not an array");
        }
        return a;
    }

    /** The device's id; snapshots written before ids were saved get the CLI's ({@code disk0}, {@code net0}, ...). */
    private static String id(JsonNode d, String prefix, int index) {
        JsonNode id = d.get("id");
        if (id == null || id.isNull()) {
            return prefix + index;
        }
        if (!id.isTextual() || id.asText().isEmpty()) {
            throw new SnapshotException("snapshot META has a device whose 'id' is not a non-empty string");
        }
        return id.asText();
    }

    private static Path socket(JsonNode d) {
        JsonNode s = d.get("socket");
        if (s == null || !s.isTextual() || s.asText().isEmpty()) {
            throw new SnapshotException("snapshot META has a device without a 'socket'");
        }
        return Path.of(s.asText());
    }
}
