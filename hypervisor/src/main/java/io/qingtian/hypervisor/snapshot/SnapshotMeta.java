package io.qingtian.hypervisor.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;

/**
 * The META section: what the snapshot describes, so a restore can rebuild the same machine
 * and refuse one it cannot (another architecture, a memory file of the wrong size).
 *
 * @param arch         "x86_64"
 * @param vmmVersion   the writer's version (informational)
 * @param vcpus        number of vCPUs
 * @param memoryBytes  guest RAM; the memory file must be exactly this long
 * @param rng          whether the VM had the virtio-rng device
 * @param createdNanos wall-clock time of the snapshot (epoch ns, informational)
 */
public record SnapshotMeta(String arch, String vmmVersion, int vcpus, long memoryBytes, boolean rng, long createdNanos) {
    private static final ObjectMapper JSON = new ObjectMapper();

    byte[] toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("arch", arch).put("vmm_version", vmmVersion).put("vcpus", vcpus).put("memory_bytes", memoryBytes)
                .put("rng", rng).put("created_ns", createdNanos);
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    static SnapshotMeta fromJson(byte[] json) {
        try {
            JsonNode o = JSON.readTree(json);
            for (String f : new String[] {"arch", "vmm_version", "vcpus", "memory_bytes", "rng", "created_ns"}) {
                if (!o.has(f)) {
                    throw new SnapshotException("snapshot META has no '" + f + "'");
                }
            }
            return new SnapshotMeta(o.get("arch").asText(), o.get("vmm_version").asText(), o.get("vcpus").asInt(),
                    o.get("memory_bytes").asLong(), o.get("rng").asBoolean(), o.get("created_ns").asLong());
        } catch (java.io.IOException e) {
            throw new SnapshotException("snapshot META is not valid JSON: " + e.getMessage());
        }
    }
}
