package io.qingtian.hypervisor.api;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmBuilder;
import io.qingtian.hypervisor.VmConfig;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.hypervisor.snapshot.SnapshotException;
import io.qingtian.hypervisor.snapshot.VmSnapshot;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The VM behind the API (Firecracker's RuntimeApiController + VmResources): collects the
 * pre-boot configuration, then owns the one {@link Vm} of this process. Every operation is
 * checked against the state first and changes nothing when it fails, so a refused request
 * leaves the VM as it was. Methods are synchronized: requests are applied one at a time, as
 * Firecracker's single VMM thread does.
 */
public final class VmmController {
    /** The instance states of Firecracker's InstanceInfo. */
    public enum State {
        NOT_STARTED("Not started"), RUNNING("Running"), PAUSED("Paused");

        public final String label;

        State(String label) {
            this.label = label;
        }
    }

    /** Firecracker's defaults when no machine-config was put. */
    public static final int DEFAULT_VCPUS = 1;
    public static final long DEFAULT_MEM_MIB = 128;
    /** Firecracker accepts 1..32 vCPUs (its OpenAPI document says so); so do we over the API. */
    public static final int MAX_API_VCPUS = 32;

    private final String id;
    private final Console console;
    private final Duration pauseTimeout = Duration.ofSeconds(10);
    private final CompletableFuture<VmExit> ended = new CompletableFuture<>();
    private State state = State.NOT_STARTED;
    private VmConfig.BootSource boot;
    private int vcpus = DEFAULT_VCPUS;
    private long memMib = DEFAULT_MEM_MIB;
    private boolean machineConfigured;
    private final Map<String, VhostUserDeviceSpec> drives = new LinkedHashMap<>();
    private final Map<String, VhostUserDeviceSpec> nics = new LinkedHashMap<>();
    private Vm vm;
    private PciDevicesConfig devices;
    /** The API ids of {@link #devices}' disks and NICs, in the same order (saved in snapshots). */
    private List<String> deviceDriveIds = List.of();
    private List<String> deviceIfaceIds = List.of();
    /** A KVM VM made while waiting for a snapshot load (see {@link #offerStandby}); null when none. */
    private VmBuilder.Shell standby;
    private boolean closed;

    private java.util.function.Consumer<String> events = e -> { };

    public VmmController(String id, Console console) {
        this.id = id;
        this.console = console;
    }

    /** Where one-line lifecycle events with timings go (the CLI prints them on stderr). */
    public synchronized void onEvent(java.util.function.Consumer<String> sink) {
        events = sink;
    }

    public String id() {
        return id;
    }

    public synchronized State state() {
        return state;
    }

    public synchronized int vcpuCount() {
        return vcpus;
    }

    public synchronized long memSizeMib() {
        return memMib;
    }

    /** Completes with the VM's outcome once it ends (guest poweroff, crash, host stop). */
    public CompletableFuture<VmExit> ended() {
        return ended;
    }

    /** The running VM (tests read its memory); null before start. */
    public synchronized Vm vm() {
        return vm;
    }

    private void requireNotStarted(String what) {
        if (state != State.NOT_STARTED) {
            throw ApiException.badRequest(what + " is not allowed after the VM started (state: " + state.label + ")");
        }
    }

    public synchronized void setBootSource(String kernel, String initrd, String bootArgs) {
        requireNotStarted("PUT /boot-source");
        try {
            boot = new VmConfig.BootSource(Path.of(kernel), initrd == null ? null : Path.of(initrd), bootArgs);
        } catch (UserError | java.nio.file.InvalidPathException e) {
            throw ApiException.badRequest("boot-source: " + e.getMessage());
        }
    }

    public synchronized void setMachineConfig(int vcpuCount, long memSizeMib) {
        requireNotStarted("PUT /machine-config");
        try {
            new VmConfig.Machine(vcpuCount, memSizeMib << 20); // the same limits as the CLI
        } catch (UserError e) {
            throw ApiException.badRequest("machine-config: " + e.getMessage());
        }
        vcpus = vcpuCount;
        memMib = memSizeMib;
        machineConfigured = true;
    }

    public synchronized void putDrive(String driveId, VhostUserDeviceSpec spec) {
        requireNotStarted("PUT /drives");
        Map<String, VhostUserDeviceSpec> next = new LinkedHashMap<>(drives);
        next.put(driveId, spec);
        checkDeviceCount(next.size() + nics.size());
        drives.put(driveId, spec);
    }

    public synchronized void putNetworkInterface(String ifaceId, VhostUserDeviceSpec spec) {
        requireNotStarted("PUT /network-interfaces");
        Map<String, VhostUserDeviceSpec> next = new LinkedHashMap<>(nics);
        next.put(ifaceId, spec);
        checkDeviceCount(drives.size() + next.size());
        nics.put(ifaceId, spec);
    }

    private static void checkDeviceCount(int n) {
        if (n > 31) {
            throw ApiException.badRequest("at most 31 drives and network interfaces in total (PCI bus 0 has 31 free slots)");
        }
    }

    /**
     * A KVM VM (with irqchip and PIT) made ahead while this hypervisor waits for its first
     * request, for a snapshot load to build on (the first step of a build, which depends on no
     * configuration). Closed at once if a VM exists already or the controller is closed; a boot
     * by InstanceStart closes it and makes its own.
     */
    public synchronized void offerStandby(VmBuilder.Shell shell) {
        if (state != State.NOT_STARTED || standby != null || closed) {
            shell.close();
            return;
        }
        standby = shell;
    }

    /** Whether a standby VM is waiting (tests). */
    public synchronized boolean hasStandby() {
        return standby != null;
    }

    private void closeStandby() {
        if (standby != null) {
            standby.close();
            standby = null;
        }
    }

    /** InstanceStart: builds the VM from the collected configuration and starts its vCPUs. */
    public synchronized void start() {
        requireNotStarted("InstanceStart");
        closeStandby();
        if (boot == null) {
            throw ApiException.badRequest("InstanceStart: no boot source configured (PUT /boot-source first)");
        }
        // No virtio-rng unless the configuration grows an /entropy device: Firecracker has none by default.
        PciDevicesConfig devs = new PciDevicesConfig(List.copyOf(drives.values()), List.copyOf(nics.values()), false);
        Vm built;
        try {
            VmConfig config = new VmConfig(new VmConfig.Machine(vcpus, memMib << 20), boot, devs);
            built = VmBuilder.build(config, console);
        } catch (UserError e) {
            throw ApiException.badRequest("InstanceStart: " + e.getMessage());
        } catch (LinuxException e) {
            throw ApiException.badRequest("InstanceStart: cannot build the VM: " + e.getMessage());
        }
        adopt(built, devs, List.copyOf(drives.keySet()), List.copyOf(nics.keySet()), State.RUNNING);
    }

    private void adopt(Vm built, PciDevicesConfig devs, List<String> driveIds, List<String> ifaceIds, State initial) {
        vm = built;
        devices = devs;
        deviceDriveIds = driveIds;
        deviceIfaceIds = ifaceIds;
        state = initial;
        if (initial == State.PAUSED) {
            try {
                built.pause(pauseTimeout); // before start: every vCPU parks as soon as its thread runs
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        built.start();
        Thread.ofVirtual().name("vm-exit-watch").start(() -> {
            try {
                ended.complete(built.awaitExit());
            } catch (InterruptedException e) {
                ended.complete(new VmExit(ExitStatus.STOPPED, -1, "interrupted"));
            }
        });
    }

    public synchronized void pause() {
        switch (state) {
            case NOT_STARTED -> throw ApiException.badRequest("cannot pause: the VM has not started");
            case PAUSED -> {
                return; // Firecracker: pausing a paused VM succeeds
            }
            case RUNNING -> {
                try {
                    if (!vm.pause(pauseTimeout)) {
                        vm.resume();
                        throw ApiException.badRequest("cannot pause: the vCPUs did not stop within "
                                + pauseTimeout.toSeconds() + " s or the VM ended");
                    }
                } catch (InterruptedException e) {
                    vm.resume();
                    Thread.currentThread().interrupt();
                    throw ApiException.badRequest("cannot pause: interrupted");
                }
                state = State.PAUSED;
            }
        }
    }

    public synchronized void resume() {
        switch (state) {
            case NOT_STARTED -> throw ApiException.badRequest("cannot resume: the VM has not started");
            case RUNNING -> {
                return;
            }
            case PAUSED -> {
                vm.resume();
                state = State.RUNNING;
            }
        }
    }

    /** SendCtrlAltDel: Firecracker injects the key sequence through the i8042. */
    public synchronized void sendCtrlAltDel() {
        if (state == State.NOT_STARTED) {
            throw ApiException.badRequest("SendCtrlAltDel: the VM has not started");
        }
        throw ApiException.badRequest("SendCtrlAltDel is not supported by this hypervisor yet "
                + "(the i8042 model has no key injection); stop the guest from inside or end the process");
    }

    public synchronized VmSnapshot.Created createSnapshot(Path statePath, Path memPath) {
        if (state != State.PAUSED) {
            throw ApiException.badRequest("snapshot/create: the VM must be paused first (state: " + state.label + ")");
        }
        try {
            VmSnapshot.Created c = VmSnapshot.create(vm, devices, deviceDriveIds, deviceIfaceIds, statePath, memPath);
            events.accept(String.format("snapshot created in %.1f ms: state %d bytes, memory file %d MiB with %d MiB of data",
                    c.nanos() / 1e6, c.stateBytes(), c.memoryFileBytes() >> 20, c.memoryDataBytes() >> 20));
            return c;
        } catch (SnapshotException e) {
            throw ApiException.badRequest("snapshot/create: " + e.getMessage());
        } catch (IOException | LinuxException e) {
            throw ApiException.badRequest("snapshot/create: cannot write the snapshot: " + e.getMessage());
        }
    }

    /** Loads a snapshot into this (fresh) hypervisor; the VM is paused unless {@code resume}. */
    public synchronized List<String> loadSnapshot(Path statePath, Path memPath, boolean resume) {
        return loadSnapshot(statePath, memPath, resume, Map.of(), Map.of());
    }

    /**
     * Loads a snapshot with some vhost-user back-end sockets replaced, by device id: Firecracker's
     * {@code network_overrides} ({@code iface_id} → {@code host_dev_name}, which names the
     * card's vhost-user-net socket here) and {@code drive_overrides} ({@code drive_id} →
     * {@code socket}). An unknown id, or a back-end socket that does not exist, is a 400 and
     * nothing is built. The hypervisor's event line gives the time of every restore phase.
     */
    public synchronized List<String> loadSnapshot(Path statePath, Path memPath, boolean resume,
                                                  Map<String, Path> driveSockets, Map<String, Path> ifaceSockets) {
        requireNotStarted("snapshot/load");
        if (boot != null || machineConfigured || !drives.isEmpty() || !nics.isEmpty()) {
            throw ApiException.badRequest("snapshot/load: only into a fresh hypervisor (boot resources were already configured)");
        }
        List<String> warnings = new ArrayList<>();
        long t0 = System.nanoTime();
        io.qingtian.hypervisor.snapshot.RestorePhases phases = new io.qingtian.hypervisor.snapshot.RestorePhases();
        boolean copy = "copy".equals(System.getenv("QT_RESTORE_MEMORY"));
        Vm restored;
        VmSnapshot.Loaded loaded;
        try {
            loaded = VmSnapshot.load(statePath, memPath).withSockets(driveSockets, ifaceSockets);
            loaded.checkBackEndSockets();
            phases.mark("read+check");
            VmBuilder.Shell shell = standby; // the restore owns it from here, and closes it if it fails
            standby = null;
            // QT_RESTORE_MEMORY=copy: restore into a fresh memfd (what vhost-user devices need), for measurements.
            restored = VmSnapshot.restore(loaded, console, copy, warnings, phases, shell);
        } catch (SnapshotException e) {
            throw ApiException.badRequest("snapshot/load: " + e.getMessage());
        } catch (IOException | LinuxException | UserError | IllegalArgumentException e) {
            throw ApiException.badRequest("snapshot/load: cannot restore: " + e.getMessage());
        }
        PciDevicesConfig restoredDevices = loaded.pciDevices();
        vcpus = loaded.meta().vcpus();
        memMib = loaded.meta().memoryBytes() >> 20;
        adopt(restored, restoredDevices, loaded.meta().diskIds(), loaded.meta().netIds(),
                resume ? State.RUNNING : State.PAUSED);
        phases.mark(resume ? "start" : "start paused");
        long t2 = System.nanoTime();
        boolean copied = copy || !restoredDevices.disks().isEmpty() || !restoredDevices.nets().isEmpty();
        events.accept(String.format("snapshot loaded in %.1f ms (%d vCPUs, %d MiB %s from %s), %s; phases: %s",
                (t2 - t0) / 1e6, vcpus, memMib, copied ? "copied" : "mapped", memPath, resume ? "running" : "paused",
                phases.summary()));
        warnings.forEach(w -> events.accept("snapshot load warning: " + w));
        return warnings;
    }

    /** Stops the VM (the process is ending). */
    public synchronized void shutdown(String why) {
        if (vm != null) {
            vm.stop(new VmExit(ExitStatus.STOPPED, -1, why));
        }
    }

    /** Releases the VM; after the process's last use. */
    public synchronized void close() {
        closed = true;
        closeStandby();
        if (vm != null) {
            vm.close();
        }
    }
}
