package io.qingtian.card.instance;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the card tells a freshly started {@code qt hypervisor run --api-sock} to do, as the
 * ordered Firecracker API requests (hypervisor {@code api.FirecrackerApi}): either a cold boot
 * (machine-config, boot-source, one drive per volume, one network interface per NIC,
 * InstanceStart) or a restore ({@code PUT /snapshot/load} with {@code resume_vm} and the
 * instance's current back-end sockets as overrides).
 *
 * <p>Drives: this hypervisor serves no disk images itself; a drive names the card's
 * vhost-user-blk socket in Firecracker's own {@code socket} field ({@code path_on_host} is
 * refused by the hypervisor). NICs: {@code host_dev_name} is the card's vhost-user-net socket
 * path. IDs are {@code disk0..} and {@code net0..} in the spec's order, which is also the order
 * of their PCI slots.
 */
public sealed interface HypervisorSetup {
    /** One API request. */
    record Call(String method, String path, Map<String, Object> body) {}

    /** A NIC as the card exported it. */
    record Nic(Path socket, String mac) {}

    List<Call> calls();

    /** Sends {@link #calls()} in order; the first refusal ends the setup and is thrown. */
    default void apply(HypervisorApi api, Duration perRequest) throws HypervisorApi.Fault {
        for (Call c : calls()) {
            api.send(c.method(), c.path(), c.body(), perRequest);
        }
    }

    record ColdBoot(Path kernel, Path initramfs, String cmdline, int cpus, int memoryMib, List<Path> disks, List<Nic> nics)
            implements HypervisorSetup {
        public ColdBoot {
            disks = List.copyOf(disks);
            nics = List.copyOf(nics);
        }

        /** Everything before InstanceStart: what is to be measured or inspected before the guest runs. */
        public List<Call> configure() {
            List<Call> c = new ArrayList<>();
            c.add(new Call("PUT", "/machine-config", body("vcpu_count", cpus, "mem_size_mib", memoryMib)));
            Map<String, Object> boot = body("kernel_image_path", kernel.toString());
            if (initramfs != null) {
                boot.put("initrd_path", initramfs.toString());
            }
            if (cmdline != null) {
                boot.put("boot_args", cmdline);
            }
            c.add(new Call("PUT", "/boot-source", boot));
            for (int i = 0; i < disks.size(); i++) {
                c.add(new Call("PUT", "/drives/disk" + i, body("drive_id", "disk" + i, "is_root_device", false,
                        "is_read_only", false, "socket", disks.get(i).toString())));
            }
            for (int i = 0; i < nics.size(); i++) {
                Map<String, Object> n = body("iface_id", "net" + i, "host_dev_name", nics.get(i).socket().toString());
                if (nics.get(i).mac() != null) {
                    n.put("guest_mac", nics.get(i).mac());
                }
                c.add(new Call("PUT", "/network-interfaces/net" + i, n));
            }
            return c;
        }

        /** InstanceStart: the VM is built and its vCPUs run. */
        public Call start() {
            return new Call("PUT", "/actions", body("action_type", "InstanceStart"));
        }

        @Override
        public List<Call> calls() {
            List<Call> c = new ArrayList<>(configure());
            c.add(start());
            return c;
        }
    }

    /**
     * Loads a snapshot the card keeps (both files readable by the instance's uid) and resumes it.
     * The snapshot names the back-end sockets the instance had when it was taken; {@code disks}
     * and {@code nics} are the sockets the card exported for this launch, in the spec's order
     * (the ids {@code disk0..}, {@code net0..} a cold boot gave them). They go to the hypervisor
     * as {@code drive_overrides} and Firecracker's {@code network_overrides}, so a snapshot
     * restores wherever the card serves its volumes and NICs now: under a new card whose state
     * directory moved, or a volume exported at another socket.
     */
    record Restore(Path state, Path memory, List<Path> disks, List<Nic> nics) implements HypervisorSetup {
        public Restore {
            disks = List.copyOf(disks);
            nics = List.copyOf(nics);
        }

        @Override
        public List<Call> calls() {
            Map<String, Object> load = body("snapshot_path", state.toString(),
                    "mem_backend", body("backend_type", "File", "backend_path", memory.toString()), "resume_vm", true);
            if (!disks.isEmpty()) {
                List<Map<String, Object>> drives = new ArrayList<>();
                for (int i = 0; i < disks.size(); i++) {
                    drives.add(body("drive_id", "disk" + i, "socket", disks.get(i).toString()));
                }
                load.put("drive_overrides", drives);
            }
            if (!nics.isEmpty()) {
                List<Map<String, Object>> ifaces = new ArrayList<>();
                for (int i = 0; i < nics.size(); i++) {
                    ifaces.add(body("iface_id", "net" + i, "host_dev_name", nics.get(i).socket().toString()));
                }
                load.put("network_overrides", ifaces);
            }
            return List.of(new Call("PUT", "/snapshot/load", load));
        }
    }

    private static Map<String, Object> body(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
