package io.qingtian.hypervisor.api;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec;
import io.qingtian.sys.UserError;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Firecracker's REST API (src/firecracker/swagger/firecracker.yaml) mapped onto a
 * {@link VmmController}: the subset a VMM that only virtualizes CPU and memory can honour.
 * Request bodies are checked against the document's schemas (required fields, types, enums,
 * ranges; unknown fields refused); every refusal is a 400 with {@code fault_message}.
 *
 * <p>Drives and network interfaces are served by the card over vhost-user: a drive names the
 * backend's socket in Firecracker's own {@code socket} field (its vhost-user-block form); a
 * {@code path_on_host} drive is refused, since this hypervisor never opens disk images. A
 * network interface's {@code host_dev_name} must be the path of the card's vhost-user-net
 * socket: there are no TAP devices in the hypervisor process.
 */
public final class FirecrackerApi {
    public static final String APP_NAME = "QingTian-J";
    public static final String VMM_VERSION = "0.1.0";

    private static final Set<String> BOOT_SOURCE = Set.of("kernel_image_path", "initrd_path", "boot_args");
    private static final Set<String> MACHINE_CONFIG = Set.of("vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
            "cpu_template", "huge_pages");
    private static final Set<String> DRIVE = Set.of("drive_id", "partuuid", "is_root_device", "cache_type", "is_read_only",
            "path_on_host", "rate_limiter", "io_engine", "socket");
    private static final Set<String> NETWORK = Set.of("iface_id", "guest_mac", "host_dev_name", "mtu", "rx_rate_limiter",
            "tx_rate_limiter");
    private static final Set<String> ACTION = Set.of("action_type");
    private static final Set<String> VM = Set.of("state");
    private static final Set<String> SNAPSHOT_CREATE = Set.of("mem_file_path", "snapshot_path", "snapshot_type");
    private static final Set<String> SNAPSHOT_LOAD = Set.of("enable_diff_snapshots", "track_dirty_pages", "mem_file_path",
            "mem_backend", "snapshot_path", "resume_vm", "network_overrides", "vsock_override", "clock_realtime", "huge_pages",
            "drive_overrides");
    private static final Set<String> MEM_BACKEND = Set.of("backend_type", "backend_path");
    /** Firecracker's NetworkOverride. */
    private static final Set<String> NETWORK_OVERRIDE = Set.of("iface_id", "host_dev_name");
    /**
     * Our DriveOverride (not in Firecracker 1.17's document; its open pull request #5774 proposes
     * {@code drive_overrides} with the same pattern): {@code drive_id} and the new vhost-user-blk
     * {@code socket}, the field PUT /drives takes; {@code path_on_host} is refused as there.
     */
    private static final Set<String> DRIVE_OVERRIDE = Set.of("drive_id", "socket", "path_on_host");
    /** Firecracker's limit on IDs (drive_id, iface_id): alphanumeric and '_', at most 64 characters. */
    private static final int MAX_ID = 64;

    private final VmmController vmm;

    public FirecrackerApi(VmmController vmm) {
        this.vmm = vmm;
    }

    /** Handles one request; never throws (every failure becomes a response). */
    public ApiResponse handle(String method, String rawPath, String body) {
        try {
            return route(method, stripQuery(rawPath), body);
        } catch (ApiException e) {
            return ApiResponse.fault(e.status(), e.getMessage());
        } catch (RuntimeException e) {
            // A defect, not bad input: say so plainly (Firecracker answers 500 here too).
            return ApiResponse.fault(500, "internal error: " + e);
        }
    }

    private static String stripQuery(String p) {
        int q = p.indexOf('?');
        return q < 0 ? p : p.substring(0, q);
    }

    private ApiResponse route(String method, String path, String body) {
        String m = method.toUpperCase(java.util.Locale.ROOT);
        if (path.startsWith("/drives/") && m.equals("PUT")) {
            putDrive(pathId(path, "/drives/"), body);
            return ApiResponse.NO_CONTENT;
        }
        if (path.startsWith("/network-interfaces/") && m.equals("PUT")) {
            putNetwork(pathId(path, "/network-interfaces/"), body);
            return ApiResponse.NO_CONTENT;
        }
        return switch (m + " " + path) {
            case "GET /" -> ApiResponse.ok(instanceInfo());
            case "GET /version" -> ApiResponse.ok(JsonNodeFactory.instance.objectNode()
                    .put("firecracker_version", VMM_VERSION).toString());
            case "GET /machine-config" -> ApiResponse.ok(machineConfig());
            case "PUT /machine-config" -> {
                putMachineConfig(body);
                yield ApiResponse.NO_CONTENT;
            }
            case "PUT /boot-source" -> {
                JsonFields f = JsonFields.parse(body, "boot-source", BOOT_SOURCE);
                vmm.setBootSource(f.string("kernel_image_path", true), f.string("initrd_path", false),
                        f.string("boot_args", false));
                yield ApiResponse.NO_CONTENT;
            }
            case "PUT /actions" -> {
                JsonFields f = JsonFields.parse(body, "actions", ACTION);
                switch (f.oneOf("action_type", true, Set.of("FlushMetrics", "InstanceStart", "SendCtrlAltDel"))) {
                    case "InstanceStart" -> vmm.start();
                    case "SendCtrlAltDel" -> vmm.sendCtrlAltDel();
                    default -> { } // FlushMetrics: no metrics sink configured, nothing to flush
                }
                yield ApiResponse.NO_CONTENT;
            }
            case "PATCH /vm" -> {
                JsonFields f = JsonFields.parse(body, "vm", VM);
                if (f.oneOf("state", true, Set.of("Paused", "Resumed")).equals("Paused")) {
                    vmm.pause();
                } else {
                    vmm.resume();
                }
                yield ApiResponse.NO_CONTENT;
            }
            case "PUT /snapshot/create" -> {
                JsonFields f = JsonFields.parse(body, "snapshot/create", SNAPSHOT_CREATE);
                String type = f.oneOf("snapshot_type", false, Set.of("Full", "Diff"));
                if ("Diff".equals(type)) {
                    throw ApiException.badRequest("snapshot/create: Diff snapshots are not supported (no dirty page tracking); use Full");
                }
                vmm.createSnapshot(path(f.string("snapshot_path", true), "snapshot_path"),
                        path(f.string("mem_file_path", true), "mem_file_path"));
                yield ApiResponse.NO_CONTENT;
            }
            case "PUT /snapshot/load" -> {
                loadSnapshot(body);
                yield ApiResponse.NO_CONTENT;
            }
            default -> throw ApiException.badRequest(knownPath(path)
                    ? "method " + m + " is not supported on " + path
                    : "invalid request method and/or path: " + m + " " + path);
        };
    }

    private static boolean knownPath(String p) {
        return Set.of("/", "/version", "/machine-config", "/boot-source", "/actions", "/vm", "/snapshot/create",
                "/snapshot/load").contains(p) || p.startsWith("/drives/") || p.startsWith("/network-interfaces/");
    }

    private static String pathId(String path, String prefix) {
        String id = path.substring(prefix.length());
        checkId(id, "path id");
        return id;
    }

    private static void checkId(String id, String what) {
        if (id.isEmpty() || id.length() > MAX_ID || !id.chars().allMatch(c -> Character.isLetterOrDigit(c) && c < 128 || c == '_')) {
            throw ApiException.badRequest("invalid " + what + " '" + id + "': use 1 to " + MAX_ID
                    + " ASCII letters, digits or '_'");
        }
    }

    private static Path path(String s, String field) {
        if (s.isEmpty()) {
            throw ApiException.badRequest("field '" + field + "' is empty");
        }
        try {
            return Path.of(s);
        } catch (InvalidPathException e) {
            throw ApiException.badRequest("field '" + field + "' is not a valid path: " + e.getMessage());
        }
    }

    private String instanceInfo() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("id", vmm.id()).put("state", vmm.state().label).put("vmm_version", VMM_VERSION).put("app_name", APP_NAME);
        return o.toString();
    }

    private String machineConfig() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("vcpu_count", vmm.vcpuCount()).put("mem_size_mib", vmm.memSizeMib()).put("smt", false)
                .put("track_dirty_pages", false).put("huge_pages", "None");
        return o.toString();
    }

    private void putMachineConfig(String body) {
        JsonFields f = JsonFields.parse(body, "machine-config", MACHINE_CONFIG);
        long vcpus = f.integer("vcpu_count", true, 1, VmmController.MAX_API_VCPUS);
        long mem = f.integer("mem_size_mib", true, 1, Long.MAX_VALUE >> 20);
        if (Boolean.TRUE.equals(f.bool("smt", false))) {
            throw ApiException.badRequest("machine-config: smt is not supported (vCPUs are single-threaded cores)");
        }
        if (Boolean.TRUE.equals(f.bool("track_dirty_pages", false))) {
            throw ApiException.badRequest("machine-config: track_dirty_pages is not supported (no Diff snapshots)");
        }
        f.unsupported("cpu_template", "CPUID is the host's, filtered for the guest topology");
        String huge = f.oneOf("huge_pages", false, Set.of("None", "Transparent", "2M"));
        if ("2M".equals(huge)) {
            throw ApiException.badRequest("machine-config: huge_pages 2M (hugetlbfs) is not supported; use None or Transparent");
        }
        vmm.setMachineConfig((int) vcpus, mem);
    }

    private void putDrive(String id, String body) {
        JsonFields f = JsonFields.parse(body, "drives/" + id, DRIVE);
        String driveId = f.string("drive_id", true);
        if (!driveId.equals(id)) {
            throw ApiException.badRequest("drives: drive_id '" + driveId + "' does not match the path's '" + id + "'");
        }
        boolean root = f.bool("is_root_device", true);
        Boolean ro = f.bool("is_read_only", false);
        f.oneOf("cache_type", false, Set.of("Unsafe", "Writeback"));
        f.oneOf("io_engine", false, Set.of("Sync", "Async"));
        f.string("partuuid", false);
        f.unsupported("rate_limiter", "QoS is applied by the card to the volume, not by the hypervisor");
        String socket = f.string("socket", false);
        if (f.has("path_on_host")) {
            f.string("path_on_host", false);
            throw ApiException.badRequest("drives/" + id + ": path_on_host is not supported: the card serves disks; "
                    + "give the card's vhost-user-blk socket in 'socket'");
        }
        if (socket == null) {
            throw ApiException.badRequest("drives/" + id + ": missing 'socket' (the card's vhost-user-blk socket)");
        }
        if (root) {
            // The root device is the guest's business (root=/dev/vda in boot_args): nothing to do here.
        }
        vmm.putDrive(id, spec(VhostUserDeviceSpec.Kind.BLOCK, socket, Boolean.TRUE.equals(ro), null, "drives/" + id));
    }

    private void putNetwork(String id, String body) {
        JsonFields f = JsonFields.parse(body, "network-interfaces/" + id, NETWORK);
        String ifaceId = f.string("iface_id", true);
        if (!ifaceId.equals(id)) {
            throw ApiException.badRequest("network-interfaces: iface_id '" + ifaceId + "' does not match the path's '" + id + "'");
        }
        String dev = f.string("host_dev_name", true);
        String mac = f.string("guest_mac", false);
        f.integer("mtu", false, 68, 65535);
        f.unsupported("rx_rate_limiter", "rate limits are applied by the card's virtual switch");
        f.unsupported("tx_rate_limiter", "rate limits are applied by the card's virtual switch");
        if (!dev.contains("/")) {
            throw ApiException.badRequest("network-interfaces/" + id + ": host_dev_name '" + dev + "' looks like a TAP "
                    + "device; this hypervisor has none: give the path of the card's vhost-user-net socket");
        }
        vmm.putNetworkInterface(id, spec(VhostUserDeviceSpec.Kind.NET, dev, false, mac, "network-interfaces/" + id));
    }

    private static VhostUserDeviceSpec spec(VhostUserDeviceSpec.Kind kind, String socket, boolean ro, String mac, String where) {
        if (socket.isEmpty() || socket.contains(",")) {
            throw ApiException.badRequest(where + ": invalid socket path '" + socket + "'");
        }
        try {
            return kind == VhostUserDeviceSpec.Kind.BLOCK
                    ? VhostUserDeviceSpec.parseDisk("socket=" + socket + (ro ? ",readonly" : ""))
                    : VhostUserDeviceSpec.parseNet("socket=" + socket + (mac == null ? "" : ",mac=" + mac));
        } catch (UserError | InvalidPathException e) {
            throw ApiException.badRequest(where + ": " + e.getMessage());
        }
    }

    private void loadSnapshot(String body) {
        JsonFields f = JsonFields.parse(body, "snapshot/load", SNAPSHOT_LOAD);
        String state = f.string("snapshot_path", true);
        String mem = f.string("mem_file_path", false);
        if (f.has("mem_backend")) {
            if (mem != null) {
                throw ApiException.badRequest("snapshot/load: give either mem_file_path or mem_backend, not both");
            }
            JsonFields b = JsonFields.of(f.raw("mem_backend"), "snapshot/load mem_backend", MEM_BACKEND);
            if (b.oneOf("backend_type", true, Set.of("File", "Uffd")).equals("Uffd")) {
                throw ApiException.badRequest("snapshot/load: the Uffd memory backend is not supported; use File");
            }
            mem = b.string("backend_path", true);
        }
        if (mem == null) {
            throw ApiException.badRequest("snapshot/load: one of mem_file_path or mem_backend is required");
        }
        boolean resume = Boolean.TRUE.equals(f.bool("resume_vm", false));
        f.bool("enable_diff_snapshots", false);
        if (Boolean.TRUE.equals(f.bool("track_dirty_pages", false))) {
            throw ApiException.badRequest("snapshot/load: track_dirty_pages is not supported");
        }
        if (Boolean.TRUE.equals(f.bool("clock_realtime", false))) {
            throw ApiException.badRequest("snapshot/load: clock_realtime is not supported (kvmclock resumes where it was)");
        }
        java.util.Map<String, Path> nets = overrides(f, "network_overrides", NETWORK_OVERRIDE, "iface_id", "host_dev_name");
        java.util.Map<String, Path> drives = overrides(f, "drive_overrides", DRIVE_OVERRIDE, "drive_id", "socket");
        f.unsupported("vsock_override", "there is no vsock device");
        String huge = f.oneOf("huge_pages", false, Set.of("Snapshot", "None", "Transparent", "2M"));
        if ("2M".equals(huge)) {
            throw ApiException.badRequest("snapshot/load: huge_pages 2M is not supported");
        }
        vmm.loadSnapshot(path(state, "snapshot_path"), path(mem, "mem_file_path"), resume, drives, nets);
    }

    /**
     * A list of {id, socket} overrides: each entry an object with exactly the allowed fields,
     * a valid id given once, and an absolute socket path. In this hypervisor every network
     * interface and drive is a vhost-user device, so the "host device" a Firecracker override
     * names is the card's back-end socket: {@code host_dev_name} for interfaces (as in PUT
     * /network-interfaces), {@code socket} for drives (as in PUT /drives).
     */
    private static java.util.Map<String, Path> overrides(JsonFields f, String field, Set<String> allowed, String idField,
                                                         String socketField) {
        java.util.Map<String, Path> out = new java.util.LinkedHashMap<>();
        if (!f.has(field)) {
            return out;
        }
        com.fasterxml.jackson.databind.JsonNode list = f.raw(field);
        if (!list.isArray()) {
            throw ApiException.badRequest("snapshot/load: field '" + field + "' must be an array");
        }
        for (com.fasterxml.jackson.databind.JsonNode item : list) {
            String where = "snapshot/load " + field;
            JsonFields o = JsonFields.of(item, where, allowed);
            String id = o.string(idField, true);
            checkId(id, field + " " + idField);
            if (o.has("path_on_host")) {
                o.string("path_on_host", false);
                throw ApiException.badRequest(where + ": path_on_host is not supported: the card serves disks; "
                        + "give the card's vhost-user-blk socket in 'socket'");
            }
            String socket = o.string(socketField, true);
            if (!socket.startsWith("/")) {
                throw ApiException.badRequest(where + ": " + socketField + " '" + socket + "' of '" + id + "' must be the "
                        + "absolute path of the card's vhost-user socket" + (socket.contains("/") ? "" : " (this hypervisor has no TAP devices)"));
            }
            if (socket.contains(",")) {
                throw ApiException.badRequest(where + ": invalid socket path '" + socket + "'");
            }
            if (out.put(id, path(socket, field + " " + socketField)) != null) {
                throw ApiException.badRequest(where + ": '" + id + "' is overridden twice");
            }
        }
        return out;
    }
}
