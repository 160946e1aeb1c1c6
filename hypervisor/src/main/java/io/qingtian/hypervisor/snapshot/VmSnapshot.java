package io.qingtian.hypervisor.snapshot;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmBuilder;
import io.qingtian.hypervisor.VmConfig;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.kvm.KvmStateIoctls;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Snapshot and restore of a whole VM (issue 8; Firecracker's persist.rs + vstate): the state
 * file ({@link SnapshotFile}: META, VMST, one VCPU per vCPU) and the memory file
 * ({@link MemoryFile}).
 *
 * <p>What is saved: every vCPU's architectural state ({@link VcpuState}), the in-kernel PIC
 * master/slave and IOAPIC, the PIT (KVM_GET_PIT2), the KVM clock, guest memory, and one
 * versioned {@link DeviceState} per device ({@link PlatformDevices}): 16550, i8042, CMOS RTC,
 * ACPI PM, and each virtio-pci function with its config space, MSI-X table and queue
 * registers and the position of every running ring (vhost-user: GET_VRING_BASE at the
 * snapshot, SET_VRING_BASE on the new connection at restore).
 */
public final class VmSnapshot {
    /** KVM_CAP_XSAVE / KVM_CAP_XCRS. */
    private static final int CAP_XSAVE = 55;
    private static final int CAP_XCRS = 56;

    /** What a snapshot took: sizes for the API's log and the benchmark. */
    public record Created(long stateBytes, long memoryDataBytes, long memoryFileBytes, long nanos) {}

    private VmSnapshot() {}

    /**
     * Saves a paused VM. The files appear atomically (written to a temporary name in the same
     * directory, then renamed), so a failed snapshot never leaves a half file under the name.
     */
    public static Created create(Vm vm, PciDevicesConfig devices, Path statePath, Path memPath) throws IOException {
        return create(vm, devices, SnapshotMeta.defaultIds("disk", devices.disks().size()),
                SnapshotMeta.defaultIds("net", devices.nets().size()), statePath, memPath);
    }

    /**
     * {@link #create(Vm, PciDevicesConfig, Path, Path)} with the API's ids of the drives and
     * network interfaces (in {@code devices} order), saved so a load can override a device's
     * back-end socket by id.
     */
    public static Created create(Vm vm, PciDevicesConfig devices, List<String> driveIds, List<String> ifaceIds,
                                 Path statePath, Path memPath) throws IOException {
        if (!vm.paused()) {
            throw new SnapshotException("the VM must be paused for a snapshot");
        }
        PlatformDevices platform = vm.snapshotDevices();
        if (platform == null && (!devices.disks().isEmpty() || !devices.nets().isEmpty() || devices.rng())) {
            throw new SnapshotException("this VM was not built by VmBuilder: its devices cannot be saved");
        }
        long t0 = System.nanoTime();
        List<SnapshotFile.Section> sections = new ArrayList<>();
        SnapshotMeta meta = new SnapshotMeta("x86_64", "QingTian-J 0.1.0", vm.vcpus().size(), vm.ram().totalBytes(),
                devices, System.currentTimeMillis() * 1_000_000L, driveIds, ifaceIds);
        sections.add(new SnapshotFile.Section("META", Map.of("json", meta.toJson())));
        sections.add(captureVm(vm.kvmVm()));
        int[] msrs = vm.kvm().msrIndexList();
        boolean xsave = vm.kvm().checkExtension(CAP_XSAVE) > 0 && vm.kvm().checkExtension(CAP_XCRS) > 0;
        for (KvmVcpu v : vm.vcpus()) {
            sections.add(VcpuState.capture(v, msrs, xsave));
        }
        Path stateTmp = temp(statePath);
        Path memTmp = temp(memPath);
        try {
            // Devices last before memory: stopping the vhost-user rings lets their in-flight
            // requests land in guest memory, which is saved after.
            if (platform != null) {
                sections.add(new SnapshotFile.Section("DEVS", platform.save()));
            }
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(stateTmp))) {
                SnapshotFile.write(out, sections);
            }
            long data = MemoryFile.save(vm.ram(), memTmp);
            Files.move(memTmp, memPath, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(stateTmp, statePath, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return new Created(Files.size(statePath), data, Files.size(memPath), System.nanoTime() - t0);
        } finally {
            if (platform != null) {
                platform.resumeAfterSnapshot(); // the source VM may be resumed
            }
            Files.deleteIfExists(stateTmp);
            Files.deleteIfExists(memTmp);
        }
    }

    private static Path temp(Path p) {
        Path abs = p.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + ".tmp");
    }

    private static SnapshotFile.Section captureVm(KvmVm vm) {
        Map<String, byte[]> e = new LinkedHashMap<>();
        e.put("pic_master", KvmStateIoctls.getIrqchip(vm, KvmStateIoctls.IRQCHIP_PIC_MASTER));
        e.put("pic_slave", KvmStateIoctls.getIrqchip(vm, KvmStateIoctls.IRQCHIP_PIC_SLAVE));
        e.put("ioapic", KvmStateIoctls.getIrqchip(vm, KvmStateIoctls.IRQCHIP_IOAPIC));
        e.put("pit2", KvmStateIoctls.get(vm.fd(), KvmStateIoctls.KVM_GET_PIT2, KvmStateIoctls.PIT2_SIZE, "KVM_GET_PIT2"));
        e.put("clock", KvmStateIoctls.getClock(vm));
        return new SnapshotFile.Section("VMST", e);
    }

    /** A parsed, checked snapshot: safe to restore (the memory file exists and has the right size). */
    public record Loaded(SnapshotMeta meta, SnapshotFile.Section vmState, List<SnapshotFile.Section> vcpus,
                         Map<String, DeviceState> devices, Path memPath) {
        /** The PCI devices to rebuild (their back-ends are connected again at restore). */
        public PciDevicesConfig pciDevices() {
            return meta.devices();
        }

        /** The same snapshot with back-end sockets replaced by device id (see {@link SnapshotMeta#withSockets}). */
        public Loaded withSockets(Map<String, Path> driveSockets, Map<String, Path> netSockets) {
            if (driveSockets.isEmpty() && netSockets.isEmpty()) {
                return this;
            }
            return new Loaded(meta.withSockets(driveSockets, netSockets), vmState, vcpus, devices, memPath);
        }

        /**
         * Checks that every vhost-user back-end socket exists and is a socket, before any memory
         * is copied or any VM is built: a restore that would fail to connect fails here, with
         * the device's id in the message.
         */
        public void checkBackEndSockets() {
            List<io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec> disks = meta.devices().disks();
            for (int i = 0; i < disks.size(); i++) {
                checkSocket("drive '" + meta.diskIds().get(i) + "'", disks.get(i).socket());
            }
            List<io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec> nets = meta.devices().nets();
            for (int i = 0; i < nets.size(); i++) {
                checkSocket("network interface '" + meta.netIds().get(i) + "'", nets.get(i).socket());
            }
        }

        private static void checkSocket(String device, Path socket) {
            java.nio.file.attribute.BasicFileAttributes a;
            try {
                a = Files.readAttributes(socket, java.nio.file.attribute.BasicFileAttributes.class);
            } catch (IOException e) {
                throw new SnapshotException(device + ": its vhost-user back-end socket " + socket
                        + " does not exist (is the card serving it? a new path can be given in the load request)");
            }
            if (!a.isOther()) {
                throw new SnapshotException(device + ": " + socket + " is not a socket (a vhost-user back-end listens on a unix socket)");
            }
        }
    }

    /** Reads and checks both files without touching any VM: every problem is a {@link SnapshotException}. */
    public static Loaded load(Path statePath, Path memPath) {
        if (!Files.isRegularFile(statePath)) {
            throw new SnapshotException("snapshot file " + statePath + " does not exist");
        }
        if (!Files.isRegularFile(memPath)) {
            throw new SnapshotException("memory file " + memPath + " does not exist");
        }
        List<SnapshotFile.Section> sections;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(statePath))) {
            sections = SnapshotFile.read(in);
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot file " + statePath + ": " + e.getMessage(), e);
        }
        SnapshotMeta meta = null;
        SnapshotFile.Section vmState = null;
        SnapshotFile.Section devs = null;
        List<SnapshotFile.Section> vcpus = new ArrayList<>();
        for (SnapshotFile.Section s : sections) {
            switch (s.tag()) {
                case "META" -> meta = SnapshotMeta.fromJson(s.require("json"));
                case "VMST" -> vmState = s;
                case "VCPU" -> vcpus.add(s);
                case "DEVS" -> {
                    if (devs != null) {
                        throw new SnapshotException("snapshot has two DEVS sections");
                    }
                    devs = s;
                }
                default -> throw new SnapshotException("snapshot has an unknown section '" + s.tag()
                        + "' (written by a newer hypervisor?)");
            }
        }
        if (meta == null || vmState == null) {
            throw new SnapshotException("snapshot lacks its " + (meta == null ? "META" : "VMST") + " section");
        }
        if (!"x86_64".equals(meta.arch())) {
            throw new SnapshotException("snapshot is for " + meta.arch() + ", this host is x86_64");
        }
        if (vcpus.size() != meta.vcpus()) {
            throw new SnapshotException("snapshot describes " + meta.vcpus() + " vCPUs but holds " + vcpus.size());
        }
        try {
            new VmConfig.Machine(meta.vcpus(), meta.memoryBytes()); // same limits as a fresh VM
            long size = Files.size(memPath);
            if (size != meta.memoryBytes()) {
                throw new SnapshotException("memory file " + memPath + " is " + size + " bytes, the snapshot's guest has "
                        + meta.memoryBytes());
            }
        } catch (io.qingtian.sys.UserError e) {
            throw new SnapshotException("snapshot describes an invalid machine: " + e.getMessage());
        } catch (IOException e) {
            throw new SnapshotException("cannot read memory file " + memPath + ": " + e.getMessage());
        }
        // Every device record is decoded and checked now, before any VM exists.
        Map<String, DeviceState> states = new LinkedHashMap<>();
        if (devs != null) {
            for (Map.Entry<String, byte[]> e : devs.entries().entrySet()) {
                states.put(e.getKey(), DeviceState.decode(e.getKey(), e.getValue()));
            }
            int pci = meta.devices().disks().size() + meta.devices().nets().size() + (meta.rng() ? 1 : 0);
            for (String name : states.keySet()) {
                boolean known = List.of(PlatformDevices.COM1, PlatformDevices.I8042_NAME, PlatformDevices.RTC,
                        PlatformDevices.ACPI_PM).contains(name);
                for (int i = 0; i < pci && !known; i++) {
                    known = name.equals(PlatformDevices.pciName(i));
                }
                if (!known) {
                    throw new SnapshotException("snapshot has state for an unknown device '" + name + "'");
                }
            }
        } else if (!meta.devices().disks().isEmpty() || !meta.devices().nets().isEmpty()) {
            throw new SnapshotException("snapshot lists vhost-user devices but has no DEVS section");
        }
        return new Loaded(meta, vmState, List.copyOf(vcpus), Map.copyOf(states), memPath);
    }

    /**
     * Builds a VM from a loaded snapshot, its state set, its vCPUs not started. With
     * {@code copyMemory} false the memory file is mapped MAP_PRIVATE (no copy); true copies it
     * into a fresh memfd (what vhost-user backends would need). Refused MSRs are reported on
     * {@code warnings}.
     */
    public static Vm restore(Loaded s, Console console, boolean copyMemory, List<String> warnings) throws IOException {
        return restore(s, console, copyMemory, warnings, new RestorePhases());
    }

    /**
     * {@link #restore(Loaded, Console, boolean, List)} recording each phase on {@code phases}:
     * memory (mapped, or a memfd whose copy runs while the VM is built), the build steps, the
     * wait for the copy, VM state, vCPU state, devices.
     */
    public static Vm restore(Loaded s, Console console, boolean copyMemory, List<String> warnings, RestorePhases phases)
            throws IOException {
        return restore(s, console, copyMemory, warnings, phases, null);
    }

    /**
     * As above, building on {@code shell} (a KVM VM made while the hypervisor waited; null: made
     * now), which belongs to the restored VM from here on, or is closed if the restore fails.
     */
    public static Vm restore(Loaded s, Console console, boolean copyMemory, List<String> warnings, RestorePhases phases,
                             VmBuilder.Shell shell) throws IOException {
        GuestRam ram;
        MemoryFile.Copy copy;
        try {
            Memory m = memory(s, copyMemory, phases);
            ram = m.ram();
            copy = m.copy();
        } catch (IOException | RuntimeException e) {
            if (shell != null) {
                shell.close(); // not handed to the builder yet
            }
            throw e;
        }
        // From here the builder owns the shell and the RAM (it closes them if it fails), then the VM.
        return restoreOnto(s, console, warnings, phases, shell, ram, copy);
    }

    private record Memory(GuestRam ram, MemoryFile.Copy copy) {}

    /** The guest RAM: the memory file mapped, or a fresh memfd whose copy has started (copy non-null). */
    private static Memory memory(Loaded s, boolean copyMemory, RestorePhases phases) throws IOException {
        VmConfig.Machine machine = new VmConfig.Machine(s.meta().vcpus(), s.meta().memoryBytes());
        PciDevicesConfig devices = s.pciDevices();
        // vhost-user back-ends map guest memory from the fd we pass: it must be a shared memfd,
        // not the MAP_PRIVATE file mapping (whose private pages a back-end would never see).
        boolean vhostUser = !devices.disks().isEmpty() || !devices.nets().isEmpty();
        if (copyMemory || vhostUser) {
            GuestRam ram = GuestRam.allocate(machine.memoryBytes(), GuestRam.Backing.SHARED_MEMFD);
            try {
                MemoryFile.Copy copy = MemoryFile.startCopy(s.memPath(), ram, MemoryFile.copyThreads());
                phases.mark("memory: memfd, copy started");
                return new Memory(ram, copy);
            } catch (IOException | RuntimeException e) {
                ram.close();
                throw e;
            }
        }
        GuestRam ram = GuestRam.mapPrivateFile(s.memPath(), machine.memoryBytes());
        phases.mark("memory: file mapped");
        return new Memory(ram, null);
    }

    private static Vm restoreOnto(Loaded s, Console console, List<String> warnings, RestorePhases phases,
                                  VmBuilder.Shell shell, GuestRam ram, MemoryFile.Copy copy) throws IOException {
        VmConfig.Machine machine = new VmConfig.Machine(s.meta().vcpus(), s.meta().memoryBytes());
        PciDevicesConfig devices = s.pciDevices();
        Vm vm;
        try {
            vm = VmBuilder.buildForRestore(machine, devices, console, ram, phases, shell);
        } catch (RuntimeException e) {
            if (copy != null) {
                try {
                    copy.await(); // the copy writes through its own mapping; wait for it before failing
                } catch (IOException | RuntimeException ignored) {
                    // the build's failure is the one to report
                }
            }
            throw e;
        }
        try {
            if (copy != null) {
                // Before any state is set: KVM writes some MSR-described guest memory at once
                // (the kvmclock wall clock), which the copy must not overwrite afterwards.
                long bytes = copy.await();
                phases.mark("memory: wait for copy");
                phases.add(String.format(java.util.Locale.ROOT, "(copy of %d MiB on %d threads, overlapped with the build)",
                        bytes >> 20, MemoryFile.copyThreads()), copy.nanos());
            }
            restoreVm(vm.kvmVm(), s.vmState());
            phases.mark("state: vm");
            for (int i = 0; i < vm.vcpus().size(); i++) {
                List<Integer> refused = VcpuState.restore(vm.vcpus().get(i), s.vcpus().get(i));
                if (!refused.isEmpty()) {
                    warnings.add("vCPU " + i + ": KVM refused MSRs " + refused.stream()
                            .map(m -> "0x" + Integer.toHexString(m)).toList());
                }
            }
            // The guest was stopped from the snapshot until now: its kvm-clock (enabled again by
            // the MSRs just written) hears so before its first entry (GuestClockPause).
            vm.notifyGuestClockStopped();
            phases.mark("state: vcpus");
            if (!s.devices().isEmpty()) {
                PlatformDevices platform = vm.snapshotDevices();
                if (platform == null) {
                    throw new SnapshotException("the restored VM has no device registry");
                }
                platform.restore(s.devices());
            }
            phases.mark("state: devices");
            return vm;
        } catch (IOException | RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Runs the restore path once on a throw-away 16 MiB VM (build, capture every piece of state,
     * set it back), so that a later restore does not pay for class loading, FFM downcall
     * handles and first-call costs: about 1 s of a JVM's first restore inside the lab (L1),
     * ~0.1 s on a host. A hypervisor started with only {@code --api-sock} does this while it
     * waits for its first request, as a Firecracker process is "warm" before its load request.
     * Failures are ignored: the real restore reports its own.
     */
    public static void prewarm() {
        try {
            prewarmOrThrow();
        } catch (IOException | RuntimeException ignored) {
            // best effort
        }
    }

    /** {@link #prewarm} with its failures reported (for tests). */
    static void prewarmOrThrow() throws IOException {
        Path dir = null;
        try {
            // The same steps as a real load: a snapshot written to files, read back and checked
            // (CRC, META's JSON, device records), memory mapped from the file, state set.
            dir = Files.createTempDirectory("qt-prewarm");
            Path state = dir.resolve("s.snap");
            Path mem = dir.resolve("s.mem");
            long size = VmConfig.MIN_MEMORY;
            try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(mem.toFile(), "rw")) {
                f.setLength(size); // holes, but for one page, so the copy path reads data once
                f.seek(1 << 20);
                f.write(new byte[] {1});
            }
            VmConfig.Machine machine = new VmConfig.Machine(1, size);
            PciDevicesConfig none = new PciDevicesConfig(List.of(), List.of(), false);
            // The copy restore's path (vhost-user VMs): memfd, extent copy on worker threads.
            try (GuestRam copied = GuestRam.allocate(size, GuestRam.Backing.SHARED_MEMFD)) {
                MemoryFile.copyInto(mem, copied);
            }
            GuestRam ram = GuestRam.mapPrivateFile(mem, size);
            try (Vm vm = VmBuilder.buildForRestore(machine, none, new Console(OutputStream.nullOutputStream(), null), ram,
                    new RestorePhases())) {
                List<SnapshotFile.Section> sections = new ArrayList<>();
                SnapshotMeta meta = new SnapshotMeta("x86_64", "prewarm", 1, size, none, 0);
                sections.add(new SnapshotFile.Section("META", Map.of("json", meta.toJson())));
                sections.add(captureVm(vm.kvmVm()));
                boolean xsave = vm.kvm().checkExtension(CAP_XSAVE) > 0 && vm.kvm().checkExtension(CAP_XCRS) > 0;
                sections.add(VcpuState.capture(vm.vcpus().get(0), vm.kvm().msrIndexList(), xsave));
                PlatformDevices platform = vm.snapshotDevices();
                if (platform != null) {
                    sections.add(new SnapshotFile.Section("DEVS", platform.save()));
                }
                try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(state))) {
                    SnapshotFile.write(out, sections);
                }
                Loaded loaded = load(state, mem);
                restoreVm(vm.kvmVm(), loaded.vmState());
                VcpuState.restore(vm.vcpus().get(0), loaded.vcpus().getFirst());
                if (platform != null) {
                    platform.restore(loaded.devices());
                }
            }
        } finally {
            if (dir != null) {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // a temp dir left behind
                }
            }
        }
    }

    /** PIT, clock, then the interrupt controllers (Firecracker's Vm::restore_state order). */
    private static void restoreVm(KvmVm vm, SnapshotFile.Section s) {
        KvmStateIoctls.set(vm.fd(), KvmStateIoctls.KVM_SET_PIT2, KvmStateIoctls.PIT2_SIZE, s.require("pit2"), "KVM_SET_PIT2");
        KvmStateIoctls.setClock(vm, s.require("clock"));
        KvmStateIoctls.setIrqchip(vm, s.require("pic_master"));
        KvmStateIoctls.setIrqchip(vm, s.require("pic_slave"));
        KvmStateIoctls.setIrqchip(vm, s.require("ioapic"));
    }
}
