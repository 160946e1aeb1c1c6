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
 */
public record SnapshotMeta(String arch, String vmmVersion, int vcpus, long memoryBytes, PciDevicesConfig devices,
                           long createdNanos) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public boolean rng() {
        return devices.rng();
    }

    byte[] toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("arch", arch).put("vmm_version", vmmVersion).put("vcpus", vcpus).put("memory_bytes", memoryBytes)
                .put("rng", devices.rng()).put("created_ns", createdNanos);
        ArrayNode disks = o.putArray("disks");
        for (VhostUserDeviceSpec d : devices.disks()) {
            disks.addObject().put("socket", d.socket().toString()).put("read_only", d.readOnly()).put("queues", d.queues());
        }
        ArrayNode nets = o.putArray("nets");
        for (VhostUserDeviceSpec n : devices.nets()) {
            ObjectNode e = nets.addObject().put("socket", n.socket().toString());
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
            for (JsonNode d : array(o, "disks")) {
                disks.add(new VhostUserDeviceSpec(VhostUserDeviceSpec.Kind.BLOCK, socket(d), d.path("read_only").asBoolean(),
                        d.path("queues").asInt(), null));
            }
            List<VhostUserDeviceSpec> nets = new ArrayList<>();
            for (JsonNode n : array(o, "nets")) {
                String mac = n.path("mac").asText(null);
                nets.add(VhostUserDeviceSpec.parseNet("socket=" + socket(n) + (mac == null ? "" : ",mac=" + mac)));
            }
            PciDevicesConfig devices = new PciDevicesConfig(disks, nets, o.get("rng").asBoolean());
            return new SnapshotMeta(o.get("arch").asText(), o.get("vmm_version").asText(), o.get("vcpus").asInt(),
                    o.get("memory_bytes").asLong(), devices, o.get("created_ns").asLong());
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

    private static Path socket(JsonNode d) {
        JsonNode s = d.get("socket");
        if (s == null || !s.isTextual() || s.asText().isEmpty()) {
            throw new SnapshotException("snapshot META has a device without a 'socket'");
        }
        return Path.of(s.asText());
    }
}
