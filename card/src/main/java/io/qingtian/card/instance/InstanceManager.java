package io.qingtian.card.instance;

import io.qingtian.acpi.GuestPlatform;
import io.qingtian.card.fs.Durable;
import io.qingtian.card.fs.Json;
import io.qingtian.card.volume.VolumeInfo;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.network.service.NetworkReply;
import io.qingtian.network.service.NicExportState;
import io.qingtian.network.service.NetworkRequest;
import io.qingtian.network.service.NetworkService;
import io.qingtian.sys.UserError;
import io.qingtian.trust.CardTrust;
import io.qingtian.trust.TrustException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Launches and supervises one confined hypervisor process per instance (card/CONTROL.md):
 * secure boot or measurement, vhost-user exports for its volumes and NICs, a cgroup, a uid,
 * a private mount namespace, and {@code --seccomp}; the hypervisor is started with
 * {@code --api-sock} and configured over Firecracker's API ({@link HypervisorSetup}), which also
 * carries pause, resume, snapshot and restore. A virtual thread per process waits for its exit,
 * records the reason, frees the cgroup and applies the restart policy.
 */
public final class InstanceManager implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(InstanceManager.class.getName());
    /** Memory the hypervisor's JVM needs besides guest RAM (heap, code, metaspace, stacks). */
    public static final long JVM_OVERHEAD = 256L << 20;
    /** Until a new hypervisor JVM listens on its API socket (it starts under the instance's CPU quota). */
    static final Duration SOCKET_WAIT = Duration.ofSeconds(60);
    /** Each setup request; InstanceStart builds the whole VM. */
    static final Duration SETUP_REQUEST = Duration.ofSeconds(60);
    /** PATCH /vm: the hypervisor itself gives up on a pause after 10 s. */
    static final Duration PAUSE_REQUEST = Duration.ofSeconds(30);
    /** PUT /snapshot/create writes all of guest RAM. */
    static final Duration SNAPSHOT_REQUEST = Duration.ofMinutes(10);
    static final String SNAPSHOT_JSON = "snapshot.json";
    /** Snapshots kept per instance. */
    public static final int MAX_SNAPSHOTS = 16;
    /** sizeof(sockaddr_un.sun_path) on Linux, with its terminating NUL. */
    static final int MAX_SUN_PATH = 108;

    private final Path root;
    private final Path snapshots;
    private final int cardUid;
    private final int cardGid;
    private final HypervisorLauncher launcher;
    private final Confinement confinement;
    private final VolumeManager volumes;
    private final NetworkService network;
    private final CardTrust trust;
    private final Map<String, Instance> instances = new LinkedHashMap<>();
    private volatile boolean closing;
    /** The hypervisors' AOT cache (may not exist yet; see HypervisorAotCache), or null. */
    private final Path aotCache;
    private volatile Process aotTraining;

    public InstanceManager(Path root, HypervisorLauncher launcher, Confinement confinement, VolumeManager volumes,
            NetworkService network, CardTrust trust) throws IOException {
        this.root = root;
        this.launcher = launcher;
        this.confinement = confinement;
        this.volumes = volumes;
        this.network = network;
        this.trust = trust;
        this.snapshots = root.resolveSibling("snapshots");
        Files.createDirectories(root);
        Files.createDirectories(snapshots);
        // confined hypervisors (other uids) must traverse to their own directory, not list others'
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(snapshots, PosixFilePermissions.fromString("rwx--x--x"));
        this.cardUid = (Integer) Files.getAttribute(root, "unix:uid");
        this.cardGid = (Integer) Files.getAttribute(root, "unix:gid");
        this.aotCache = HypervisorAotCache.location(launcher);
        if (aotCache != null && !Files.exists(aotCache)) {
            Thread.ofPlatform().daemon().name("hypervisor-aot-training")
                    .start(() -> HypervisorAotCache.train(launcher, p -> aotTraining = p));
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path d : dirs.sorted().toList()) {
                Path f = d.resolve("instance.json");
                if (Files.isRegularFile(f)) {
                    InstanceSpec s = Json.MAPPER.readValue(f.toFile(), InstanceSpec.class);
                    Instance i = new Instance(s, freeSlot(), console(s.id()));
                    instances.put(s.id(), i);
                    if (confinement.enabled()) {
                        // slots (so uids) are reassigned at each card start: the directory follows its new uid
                        // at once, never left to the uid another instance may now have
                        chownTree(d, confinement.uid(i.slot), confinement.kvmGid());
                        if (Files.isDirectory(snapshotsOf(s))) {
                            chown(snapshotsOf(s), cardUid, cardGid); // in case the card died mid-snapshot
                        }
                    }
                }
            }
        }
    }

    public Confinement confinement() {
        return confinement;
    }

    private ConsoleLog console(String id) {
        return new ConsoleLog(root.resolve(id).resolve("console.log"), ConsoleLog.DEFAULT_CAP);
    }

    private int freeSlot() {
        for (int s = 0; ; s++) {
            final int slot = s;
            if (instances.values().stream().noneMatch(i -> i.slot == slot)) {
                return s;
            }
        }
    }

    /** Defines the instance (persisted) and, if {@code start}, launches it; a refused launch defines nothing. */
    public InstanceView create(InstanceSpec spec, boolean start) throws IOException {
        Instance i;
        synchronized (this) {
            if (instances.containsKey(spec.id())) {
                throw new IllegalStateException("instance " + spec.name() + " already exists");
            }
            for (String v : spec.volumes()) {
                if (volumes.list().stream().noneMatch(x -> x.name().equals(v))) {
                    throw new UserError("no volume " + shortName(v));
                }
            }
            i = new Instance(spec, freeSlot(), console(spec.id()));
            i.op.lock(); // before it is visible: nothing else acts on it until it is launched
            instances.put(spec.id(), i);
        }
        Path dir = root.resolve(spec.id());
        try {
            Files.createDirectories(dir);
            Durable.writeAtomically(dir.resolve("instance.json"), Json.MAPPER.writeValueAsBytes(spec));
            if (start) {
                launch(i, null);
            }
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                i.deleted = true;
                if (instances.get(spec.id()) == i) {
                    instances.remove(spec.id());
                    unexportInto(dir); // exports this launch made, at sockets about to be deleted
                    deleteTree(dir);
                }
            }
            throw e;
        } finally {
            i.op.unlock();
        }
        synchronized (this) {
            return view(i);
        }
    }

    public synchronized List<InstanceView> list(String tenant) {
        return instances.values().stream().filter(i -> tenant == null || i.spec.tenant().equals(tenant))
                .map(this::view).toList();
    }

    public synchronized Optional<InstanceView> get(String id) {
        return Optional.ofNullable(instances.get(id)).map(this::view);
    }

    public InstanceView start(String id) throws IOException {
        Instance i = needLocked(id);
        try {
            synchronized (this) {
                if (i.process != null && i.process.isAlive()) {
                    throw new IllegalStateException("instance " + i.spec.name() + " is already running");
                }
                i.consecutiveFailures = 0;
            }
            launch(i, null);
            synchronized (this) {
                return view(i);
            }
        } finally {
            i.op.unlock();
        }
    }

    public InstanceView stop(String id) throws IOException {
        Process p;
        Instance i;
        synchronized (this) {
            i = need(id);
            if (i.process == null || !i.process.isAlive()) {
                if (i.state == InstanceState.RESTARTING) {
                    i.stopRequested = true;
                    i.state = InstanceState.STOPPED;
                    return view(i);
                }
                throw new IllegalStateException("instance " + i.spec.name() + " is not running");
            }
            i.stopRequested = true;
            p = i.process;
        }
        terminate(i, p);
        synchronized (this) {
            return view(need(id));
        }
    }

    public InstanceView reboot(String id) throws IOException {
        stop(id);
        return start(id);
    }

    public void delete(String id) throws IOException {
        Process p = null;
        Instance i;
        synchronized (this) {
            i = need(id);
            i.deleted = true;
            i.stopRequested = true;
            if (i.process != null && i.process.isAlive()) {
                p = i.process;
            }
        }
        if (p != null) {
            terminate(i, p);
        }
        // an operation in flight fails fast once its process is gone; let it finish before the files go
        i.op.lock();
        try {
            synchronized (this) {
                for (String v : i.spec.volumes()) {
                    unexportQuietly(v);
                }
                if (instances.get(id) == i) {
                    instances.remove(id);
                }
                deleteTree(root.resolve(id));
                deleteTree(snapshotsOf(i.spec));
            }
        } finally {
            i.op.unlock();
        }
    }

    // ---- pause, resume, snapshot, restore (over the hypervisor's API socket) ------------------

    /** PATCH /vm Paused: the guest's vCPUs stop; 409 unless RUNNING. */
    public InstanceView pause(String id) {
        return vmState(id, true);
    }

    /** PATCH /vm Resumed: 409 unless PAUSED. */
    public InstanceView resume(String id) {
        return vmState(id, false);
    }

    private InstanceView vmState(String id, boolean pause) {
        Instance i = needLocked(id);
        try {
            HypervisorApi api;
            Process p;
            synchronized (this) {
                InstanceState want = pause ? InstanceState.RUNNING : InstanceState.PAUSED;
                if (i.state != want) {
                    throw new IllegalStateException("cannot " + (pause ? "pause" : "resume") + " instance " + i.spec.name()
                            + ": it is " + i.state + (pause ? "" : " (only a PAUSED instance can be resumed)"));
                }
                api = i.api;
                p = i.process;
            }
            try {
                api.patch("/vm", Map.of("state", pause ? "Paused" : "Resumed"), PAUSE_REQUEST);
            } catch (HypervisorApi.Fault f) {
                throw failure(i, p, pause ? "pausing" : "resuming", f);
            }
            synchronized (this) {
                if (i.process == p) {
                    i.state = pause ? InstanceState.PAUSED : InstanceState.RUNNING;
                }
                return view(i);
            }
        } finally {
            i.op.unlock();
        }
    }

    /**
     * A full snapshot (PUT /snapshot/create) into {@code STATE/snapshots/TENANT/NAME/SNAP/}: a
     * RUNNING instance is paused for it and resumed after, a PAUSED one stays paused. The
     * hypervisor writes the files as the instance's uid into a directory only that uid and the
     * card can reach; afterwards they belong to the card, read-only.
     */
    public SnapshotInfo snapshot(String id, String snapshot) throws IOException {
        Instance i = needLocked(id);
        try {
            HypervisorApi api;
            Process p;
            boolean wasRunning;
            int uid;
            synchronized (this) {
                if (i.state != InstanceState.RUNNING && i.state != InstanceState.PAUSED) {
                    throw new IllegalStateException("cannot snapshot instance " + i.spec.name() + ": it is " + i.state
                            + " (snapshots are taken of a RUNNING or PAUSED instance)");
                }
                api = i.api;
                p = i.process;
                wasRunning = i.state == InstanceState.RUNNING;
                uid = confinement.uid(i.slot);
            }
            Path dir = snapshotsOf(i.spec).resolve(snapshot);
            if (Files.exists(dir)) {
                throw new IllegalStateException("snapshot " + snapshot + " of instance " + i.spec.name() + " already exists");
            }
            if (snapshots(id).size() >= MAX_SNAPSHOTS) {
                // each can hold all of guest RAM: a tenant must not fill the card's disk
                throw new IllegalStateException("instance " + i.spec.name() + " has " + MAX_SNAPSHOTS
                        + " snapshots, the most it may keep: delete one first");
            }
            Path owner = createSnapshotsDir(i.spec);
            Files.createDirectory(dir);
            long t0 = System.nanoTime();
            boolean done = false;
            try {
                if (confinement.enabled()) {
                    chown(owner, uid, confinement.kvmGid());
                    chown(dir, uid, confinement.kvmGid());
                }
                if (wasRunning) {
                    api.patch("/vm", Map.of("state", "Paused"), PAUSE_REQUEST);
                }
                try {
                    api.put("/snapshot/create", Map.of("snapshot_type", "Full", "snapshot_path", dir.resolve("state").toString(),
                            "mem_file_path", dir.resolve("memory").toString()), SNAPSHOT_REQUEST);
                } finally {
                    if (wasRunning) {
                        resumeQuietly(api, i);
                    }
                }
                done = true;
            } catch (HypervisorApi.Fault f) {
                throw failure(i, p, "taking snapshot " + snapshot, f);
            } finally {
                if (confinement.enabled() && Files.isDirectory(owner)) {
                    chown(owner, cardUid, cardGid); // the hypervisor's access ends with the request
                }
                if (!done) {
                    deleteTree(dir);
                }
            }
            double millis = (System.nanoTime() - t0) / 1e6;
            for (String f : List.of("state", "memory")) {
                Path file = dir.resolve(f);
                if (confinement.enabled()) {
                    chown(file, cardUid, cardGid);
                }
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("r--r--r--"));
            }
            if (confinement.enabled()) {
                chown(dir, cardUid, cardGid);
            }
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            SnapshotInfo info = new SnapshotInfo(snapshot, i.spec.name(), java.time.Instant.now().toString(), i.spec.cpus(),
                    i.spec.memoryMib(), Files.size(dir.resolve("state")), Files.size(dir.resolve("memory")),
                    Math.round(millis * 10) / 10.0);
            Durable.writeAtomically(dir.resolve(SNAPSHOT_JSON), Json.MAPPER.writeValueAsBytes(info));
            LOG.info("instance " + id + ": snapshot " + snapshot + " in " + info.millis() + " ms");
            return info;
        } finally {
            i.op.unlock();
        }
    }

    private void resumeQuietly(HypervisorApi api, Instance i) {
        try {
            api.patch("/vm", Map.of("state", "Resumed"), PAUSE_REQUEST);
        } catch (HypervisorApi.Fault f) {
            LOG.warning("instance " + i.spec.id() + ": resuming after the snapshot failed: " + f.getMessage());
            synchronized (this) {
                if (i.state == InstanceState.RUNNING) {
                    i.state = InstanceState.PAUSED; // what the hypervisor is left in
                }
            }
        }
    }

    /**
     * Restores a snapshot of this instance into a new hypervisor process (started with
     * {@code --api-sock}, then PUT /snapshot/load with resume_vm): 409 unless the instance has no
     * running process (stop it first), 404 for an unknown snapshot.
     */
    public InstanceView restore(String id, String snapshot) throws IOException {
        Instance i = needLocked(id);
        try {
            synchronized (this) {
                if (i.process != null && i.process.isAlive() || i.state == InstanceState.RESTARTING) {
                    throw new IllegalStateException("cannot restore instance " + i.spec.name() + ": it is " + i.state
                            + "; stop it first (a snapshot is loaded into a new hypervisor process)");
                }
            }
            if (!Files.isRegularFile(snapshotsOf(i.spec).resolve(snapshot).resolve(SNAPSHOT_JSON))) {
                throw new java.util.NoSuchElementException("snapshot " + snapshot);
            }
            synchronized (this) {
                i.consecutiveFailures = 0;
            }
            launch(i, snapshot);
            synchronized (this) {
                return view(i);
            }
        } finally {
            i.op.unlock();
        }
    }

    public List<SnapshotInfo> snapshots(String id) throws IOException {
        InstanceSpec spec;
        synchronized (this) {
            spec = need(id).spec;
        }
        Path dir = snapshotsOf(spec);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<SnapshotInfo> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path d : s.toList()) {
                Path f = d.resolve(SNAPSHOT_JSON);
                if (Files.isRegularFile(f)) {
                    out.add(Json.MAPPER.readValue(f.toFile(), SnapshotInfo.class));
                }
            }
        }
        out.sort(Comparator.comparing(x -> java.time.Instant.parse(x.createdAt()))); // not as strings: fractions vary in length
        return out;
    }

    public void deleteSnapshot(String id, String snapshot) throws IOException {
        Instance i = needLocked(id);
        try {
            Path d = snapshotsOf(i.spec).resolve(snapshot);
            if (!Files.isRegularFile(d.resolve(SNAPSHOT_JSON))) {
                throw new java.util.NoSuchElementException("snapshot " + snapshot);
            }
            // a hypervisor restored from it keeps its private mapping of the memory file
            deleteTree(d);
        } finally {
            i.op.unlock();
        }
    }

    /** Where the card keeps the instance's snapshots: {@code STATE/snapshots/TENANT/NAME}. */
    private Path snapshotsOf(InstanceSpec s) {
        return snapshots.resolve(s.tenant()).resolve(s.name());
    }

    /** Creates STATE/snapshots/TENANT (0711) and .../NAME (0700, the card's): returns the latter. */
    private Path createSnapshotsDir(InstanceSpec s) throws IOException {
        Path tenant = snapshots.resolve(s.tenant());
        if (!Files.isDirectory(tenant)) {
            Files.createDirectories(tenant);
            Files.setPosixFilePermissions(tenant, PosixFilePermissions.fromString("rwx--x--x"));
        }
        Path d = tenant.resolve(s.name());
        if (!Files.isDirectory(d)) {
            Files.createDirectory(d);
        }
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
        return d;
    }

    /**
     * What a failed request to a running hypervisor becomes: 409 if the process ended meanwhile
     * (stopped, killed: its lastExit says how), else the hypervisor's own fault.
     */
    private RuntimeException failure(Instance i, Process p, String what, HypervisorApi.Fault f) {
        synchronized (this) {
            if (i.process != p || !p.isAlive()) {
                return new IllegalStateException("instance " + i.spec.name() + " ended while " + what
                        + " (see its lastExit)");
            }
        }
        return HypervisorFailure.of(what, f);
    }

    public byte[] consoleTail(String id, int max) throws IOException {
        ConsoleLog c;
        synchronized (this) {
            c = need(id).console;
        }
        return c.tail(max);
    }

    /** An attestation document for the instance's last launch (null parameters allowed). */
    public byte[] attest(String id, byte[] nonce, byte[] userData, byte[] publicKey) throws TrustException {
        CardTrust.InstanceMeasurement m;
        synchronized (this) {
            m = need(id).measurement;
        }
        if (m == null) {
            throw new IllegalStateException("instance has not been launched since the card started: nothing measured");
        }
        return m.attestor().document(nonce, userData, publicKey);
    }

    private Instance need(String id) {
        Instance i = instances.get(id);
        if (i == null) {
            throw new java.util.NoSuchElementException(id);
        }
        return i;
    }

    /** The instance with its operation lock held (the caller unlocks); 404 if it is gone by then. */
    private Instance needLocked(String id) {
        Instance i;
        synchronized (this) {
            i = need(id);
        }
        i.op.lock();
        synchronized (this) {
            if (i.deleted) {
                i.op.unlock();
                throw new java.util.NoSuchElementException(id);
            }
        }
        return i;
    }

    /** SIGTERM, then SIGKILL after 5 s; waits for the supervisor to record the exit. */
    private void terminate(Instance i, Process p) {
        terminateAll(Map.of(i, p));
    }

    /**
     * Ends hypervisor processes side by side: SIGTERM, SIGKILL after {@link #TERM_GRACE}, then
     * waits (bounded) until each one's supervisor has recorded the exit, so that a caller reads
     * the final state (STOPPED, lastExit) rather than whatever it was a moment before.
     */
    private void terminateAll(Map<Instance, Process> ps) {
        ps.values().forEach(Process::destroy);
        if (!awaitExits(ps.values(), TERM_GRACE)) {
            ps.values().stream().filter(Process::isAlive).forEach(Process::destroyForcibly);
            if (!awaitExits(ps.values(), TERM_GRACE)) {
                io.qingtian.sys.BoundedWait.report("hypervisor process(es) "
                        + ps.values().stream().filter(Process::isAlive).map(p -> Long.toString(p.pid())).toList()
                        + " still alive " + TERM_GRACE.toMillis() + " ms after SIGKILL; going on", List.of());
            }
        }
        long deadline = System.nanoTime() + io.qingtian.sys.BoundedWait.SHUTDOWN.toNanos();
        synchronized (this) {
            for (var e : ps.entrySet()) {
                // The supervisor clears i.process (and notifies) once it has recorded the exit.
                while (e.getKey().process == e.getValue() && !e.getValue().isAlive()) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        LOG.warning("the exit of instance " + e.getKey().spec.id() + " is not recorded yet");
                        break;
                    }
                    try {
                        java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
                    } catch (InterruptedException x) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    private static final java.time.Duration TERM_GRACE = java.time.Duration.ofSeconds(5);

    /** Waits until every process has exited or {@code bound} has passed; true when all have. */
    private static boolean awaitExits(java.util.Collection<Process> ps, java.time.Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        try {
            for (Process p : ps) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !p.waitFor(left, java.util.concurrent.TimeUnit.NANOSECONDS)) {
                    return ps.stream().noneMatch(Process::isAlive);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return ps.stream().noneMatch(Process::isAlive);
    }

    // ---- launch --------------------------------------------------------------------------

    /** The guest's boot images, as launched (verified or measured copies in the instance directory). */
    private record BootImages(Path kernel, Path initramfs, String cmdline) {}

    /**
     * Starts a hypervisor for {@code i} and configures it over its API socket: a cold boot from
     * the spec, or ({@code snapshot} not null) a restore of one of its snapshots. The caller
     * holds {@code i.op}; the manager's monitor is held only to prepare and start the process,
     * never while waiting for the hypervisor. When the hypervisor refuses its setup, the card
     * ends the process; the supervisor records the refusal as the instance's lastExit and
     * {@link HypervisorFailure} is thrown.
     */
    private void launch(Instance i, String snapshot) throws IOException {
        HypervisorSetup setup;
        Process p;
        HypervisorApi api;
        synchronized (this) {
            setup = prepare(i, snapshot);
            p = i.process;
            api = i.api;
        }
        try {
            awaitApi(p, api);
            setup.apply(api, SETUP_REQUEST);
        } catch (HypervisorApi.Fault f) {
            boolean ours;
            synchronized (this) {
                ours = i.process == p && !i.stopRequested && !i.deleted && !closing;
                if (ours) {
                    i.setupFault = f;
                }
            }
            terminate(i, p);
            if (!ours) {
                throw new IllegalStateException("instance " + i.spec.name() + " was stopped while it was starting");
            }
            throw HypervisorFailure.of((snapshot == null ? "starting" : "restoring") + " instance " + i.spec.name(), f);
        } finally {
            if (snapshot != null && confinement.enabled() && Files.isDirectory(snapshotsOf(i.spec))) {
                chown(snapshotsOf(i.spec), cardUid, cardGid); // the memory file is mapped: access ends here
            }
        }
        synchronized (this) {
            if (i.process == p && i.state == InstanceState.STARTING) {
                i.state = InstanceState.RUNNING;
            }
        }
        LOG.info("instance " + i.spec.id() + (snapshot == null ? " booted" : " restored from " + snapshot)
                + ", pid " + p.pid());
    }

    /** Waits until the new hypervisor accepts connections on its API socket, or has exited. */
    private static void awaitApi(Process p, HypervisorApi api) throws HypervisorApi.Fault {
        long deadline = System.nanoTime() + SOCKET_WAIT.toNanos();
        while (!api.listening()) {
            if (!p.isAlive()) {
                throw new HypervisorApi.Fault(0, "starting the hypervisor", "it exited before serving its API socket"
                        + " (see the console log)");
            }
            if (System.nanoTime() > deadline) {
                throw new HypervisorApi.Fault(0, "starting the hypervisor", "its API socket " + api.socket()
                        + " did not appear within " + SOCKET_WAIT.toSeconds() + " s");
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new HypervisorApi.Fault(0, "starting the hypervisor", "interrupted");
            }
        }
    }

    /** Under the monitor: images and measurement (cold boot), exports, cgroup, API directory, process. */
    private HypervisorSetup prepare(Instance i, String snapshot) throws IOException {
        InstanceSpec s = i.spec;
        Path dir = root.resolve(s.id());
        BootImages images = snapshot == null ? bootImages(i, dir) : null;
        List<Path> disks = new ArrayList<>();
        for (String v : s.volumes()) {
            disks.add(exportVolume(dir, v));
        }
        List<HypervisorSetup.Nic> nics = new ArrayList<>();
        for (String n : s.nics()) {
            nics.add(exportNic(dir, n));
        }
        HypervisorSetup setup;
        if (snapshot == null) {
            setup = new HypervisorSetup.ColdBoot(images.kernel(), images.initramfs(), images.cmdline(), s.cpus(),
                    s.memoryMib(), disks, nics);
        } else {
            Path snap = snapshotsOf(s).resolve(snapshot);
            setup = new HypervisorSetup.Restore(snap.resolve("state"), snap.resolve("memory"), disks, nics);
        }
        // The API socket's directory: only the instance's uid (and the card, root) can reach it.
        Path apiDir = dir.resolve("api");
        Files.createDirectories(apiDir);
        Files.setPosixFilePermissions(apiDir, PosixFilePermissions.fromString("rwx------"));
        Path sock = apiDir.resolve("firecracker.sock");
        if (sock.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length >= MAX_SUN_PATH) {
            throw new IOException("the API socket path " + sock + " is longer than a Unix socket allows ("
                    + (MAX_SUN_PATH - 1) + " bytes): use a shorter state directory");
        }
        Files.deleteIfExists(sock); // left by a hypervisor that was killed
        long memLimit = ((long) s.memoryMib() << 20) + JVM_OVERHEAD;
        Cgroup cg = null;
        try {
            cg = Cgroup.create(s.id() + "-" + System.nanoTime(), s.cpus(), memLimit);
        } catch (IOException e) {
            if (confinement.enabled()) {
                throw new IOException("cannot create the instance's cgroup: " + e.getMessage(), e);
            }
        }
        if (confinement.enabled()) {
            chownTree(dir, confinement.uid(i.slot), confinement.kvmGid());
            // connect(2) needs write permission on the socket file: the card's back-end sockets are
            // handed to the instance's uid alone (0600), so no other instance can reach them
            List<Path> backends = new ArrayList<>(disks);
            nics.forEach(n -> backends.add(n.socket()));
            for (Path b : backends) {
                chown(b, confinement.uid(i.slot), confinement.kvmGid());
                Files.setPosixFilePermissions(b, PosixFilePermissions.fromString("rw-------"));
            }
            if (snapshot != null) {
                chown(snapshotsOf(s), confinement.uid(i.slot), confinement.kvmGid());
            }
        }
        List<String> hv = new ArrayList<>(HypervisorAotCache.apply(launcher, aotCache).command(sock, s.id()));
        if (snapshot == null && i.measurement != null) {
            // the hypervisor refuses tables other than the measured ones (a restored VM's are in its memory)
            hv.addAll(List.of("--expect-acpi-sha384", i.measurement.acpiPcrHex()));
        }
        List<String> cmd = confinement.command(i.slot, cg, hv);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> !k.equals("PATH") && !k.equals("LANG"));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            if (cg != null) {
                cg.remove();
            }
            throw e;
        }
        i.process = p;
        i.api = new HypervisorApi(sock);
        i.cgroup = cg;
        i.state = InstanceState.STARTING;
        i.stopRequested = false;
        i.setupFault = null;
        i.restoredFrom = snapshot;
        Thread.ofVirtual().name("console-" + s.id()).start(() -> i.console.pump(p.getInputStream()));
        Thread.ofVirtual().name("supervise-" + s.id()).start(() -> supervise(i, p));
        LOG.info("instance " + s.id() + " hypervisor started, pid " + p.pid());
        return setup;
    }

    /** Secure boot or a measured unsigned launch; the launched images are copies in {@code dir}. */
    private BootImages bootImages(Instance i, Path dir) throws IOException {
        InstanceSpec s = i.spec;
        Path kernel;
        Path initramfs = null;
        String cmdline = s.cmdline();
        i.measurement = null;
        i.secureBoot = false;
        if (s.manifest() != null) {
            if (trust == null) {
                throw new UserError(s.manifest() + ": secure boot needs a card started with --trust");
            }
            switch (trust.prepareLaunch(s.id(), Path.of(s.manifest()), s.cmdline())) {
                case CardTrust.LaunchDecision.Refused r -> throw new UserError("secure boot refused: " + r.message());
                case CardTrust.LaunchDecision.Approved a -> {
                    // launch exactly the verified bytes: copies the hypervisor's uid may read
                    kernel = writeImage(dir.resolve("kernel"), a.verified().kernel().content());
                    if (a.verified().initramfs().isPresent()) {
                        initramfs = writeImage(dir.resolve("initramfs"), a.verified().initramfs().get().content());
                    }
                    cmdline = a.verified().cmdline();
                    measureAcpi(a.measurement(), s);
                    commit(a.measurement());
                    i.measurement = a.measurement();
                    i.secureBoot = true;
                }
            }
        } else {
            kernel = writeImage(dir.resolve("kernel"), read(Path.of(s.kernel())));
            if (s.initramfs() != null) {
                initramfs = writeImage(dir.resolve("initramfs"), read(Path.of(s.initramfs())));
            }
            if (trust != null) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment k = map(a, kernel);
                    MemorySegment r = initramfs == null ? null : map(a, initramfs);
                    CardTrust.InstanceMeasurement m = trust.measureUnsigned(s.id(), k, r,
                            cmdline == null ? "" : cmdline);
                    measureAcpi(m, s);
                    commit(m);
                    i.measurement = m;
                }
            }
        }
        return new BootImages(kernel, initramfs, cmdline);
    }

    private void supervise(Instance i, Process p) {
        int code;
        while (true) {
            try {
                code = p.waitFor();
                break;
            } catch (InterruptedException e) {
                // keep waiting: the exit must be recorded
            }
        }
        long delay = -1;
        synchronized (this) {
            if (i.process != p) {
                return;
            }
            HypervisorApi.Fault fault = i.setupFault;
            ExitReason why;
            if (fault != null) {
                why = fault.status() != 0 ? ExitReason.refused(fault.getMessage()) : ExitReason.of(code, false, fault.getMessage());
            } else {
                why = ExitReason.of(code, i.stopRequested || closing);
            }
            i.lastExit = why;
            i.process = null;
            if (i.api != null) {
                try {
                    Files.deleteIfExists(i.api.socket()); // a killed hypervisor leaves it behind
                } catch (IOException ignored) {
                    // the next launch removes it
                }
                i.api = null;
            }
            if (i.cgroup != null && !i.cgroup.remove()) {
                LOG.warning("cgroup of " + i.spec.id() + " could not be removed: " + i.cgroup.dirs());
            }
            LOG.info("instance " + i.spec.id() + " exited: " + why.meaning() + (why.detail() == null ? "" : ": " + why.detail()));
            if (i.deleted || i.stopRequested || closing) {
                i.state = InstanceState.STOPPED;
            } else if (fault != null) {
                i.state = InstanceState.EXITED; // a refused setup would be refused again: no restart
            } else if (why.failure() && i.spec.restart() == RestartPolicy.ON_FAILURE) {
                if (++i.consecutiveFailures > RestartPolicy.MAX_ATTEMPTS) {
                    i.state = InstanceState.FAILED;
                } else {
                    i.state = InstanceState.RESTARTING;
                    delay = RestartPolicy.backoffMillis(i.consecutiveFailures - 1);
                }
            } else {
                i.state = InstanceState.EXITED;
            }
            notifyAll(); // terminateAll waits for this record
        }
        if (delay >= 0) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                return;
            }
            i.op.lock();
            try {
                synchronized (this) {
                    if (i.state != InstanceState.RESTARTING || i.deleted || closing) {
                        return;
                    }
                    i.restarts++;
                }
                launch(i, null);
            } catch (HypervisorFailure | IllegalStateException e) {
                LOG.warning("restart of " + i.spec.id() + " failed: " + e.getMessage()); // lastExit says why
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "restart of " + i.spec.id() + " failed", e);
                synchronized (this) {
                    if (i.state == InstanceState.RESTARTING) {
                        i.state = InstanceState.FAILED;
                    }
                }
            } finally {
                i.op.unlock();
            }
        }
    }

    private Path exportVolume(Path dir, String volume) throws IOException {
        VolumeInfo info = volumes.list().stream().filter(v -> v.name().equals(volume)).findFirst()
                .orElseThrow(() -> new UserError("no volume " + shortName(volume)));
        if (info.exportedAt() != null) {
            return Path.of(info.exportedAt());
        }
        Path sock = dir.resolve("vol-" + volume + ".sock");
        volumes.export(volume, sock, 1, false);
        return sock;
    }

    private HypervisorSetup.Nic exportNic(Path dir, String nic) {
        NetworkReply.NicInfo info = network.config().nics().stream().filter(n -> n.name().equals(nic)).findFirst()
                .orElseThrow(() -> new UserError("no nic " + shortName(nic)));
        NicExportState export = network.exportState(nic);
        if (export != null && export.running()) {
            return new HypervisorSetup.Nic(export.socket(), info.mac());
        }
        // Not exported, or recorded at a path where the network service could not bring the
        // export back when the card started (a socket outside the state directory whose
        // directory is gone): export it into the instance's directory, which replaces the dead record.
        Path sock = dir.resolve("nic-" + nic + ".sock");
        network.exportNic(new NetworkRequest.NicExport(nic, sock.toString()));
        return new HypervisorSetup.Nic(sock, info.mac());
    }

    private void unexportInto(Path dir) {
        try {
            for (VolumeInfo v : volumes.list()) {
                if (v.exportedAt() != null && Path.of(v.exportedAt()).startsWith(dir)) {
                    unexportQuietly(v.name());
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // nothing exported
        }
    }

    private void unexportQuietly(String volume) {
        try {
            volumes.unexport(volume);
        } catch (IOException | RuntimeException ignored) {
            // not exported
        }
    }

    /**
     * PCR4: the ACPI tables of this launch, computed as the hypervisor will build them (same
     * vCPU count and memory size as the {@code hypervisor run} command line below).
     */
    private static void measureAcpi(CardTrust.InstanceMeasurement m, InstanceSpec s) {
        m.acpiTables(GuestPlatform.forGuest(s.cpus(), (long) s.memoryMib() << 20).tables());
    }

    private static void commit(CardTrust.InstanceMeasurement m) throws IOException {
        try {
            m.commit();
        } catch (TrustException e) {
            throw new IOException("saving the measurements: " + e.getMessage(), e);
        }
    }

    private static MemorySegment read(Path p) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new UserError("no such image file: " + p);
        }
        return MemorySegment.ofArray(Files.readAllBytes(p));
    }

    private static MemorySegment map(Arena a, Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            return ch.size() == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), a);
        }
    }

    private static Path writeImage(Path target, MemorySegment bytes) throws IOException {
        Durable.writeAtomically(target, bytes.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        return target;
    }

    private static void chownTree(Path dir, int uid, int gid) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                if (p.getFileName().toString().endsWith(".sock") || p.getFileName().toString().equals("instance.json")) {
                    continue; // back-end sockets: granted one by one in prepare(); spec: the card's own
                }
                Files.setAttribute(p, "unix:uid", uid);
                Files.setAttribute(p, "unix:gid", gid);
            }
        }
    }

    private static void chown(Path p, int uid, int gid) throws IOException {
        Files.setAttribute(p, "unix:uid", uid);
        Files.setAttribute(p, "unix:gid", gid);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }

    static String shortName(String internal) {
        int dot = internal.indexOf('.');
        return dot < 0 ? internal : internal.substring(dot + 1);
    }

    private InstanceView view(Instance i) {
        InstanceSpec s = i.spec;
        Process p = i.process;
        return new InstanceView(s.id(), s.tenant(), s.name(), i.state, p == null ? null : p.pid(),
                confinement.enabled() ? confinement.uid(i.slot) : null,
                i.cgroup == null || p == null ? List.of() : i.cgroup.dirs().stream().map(Path::toString).toList(),
                s.cpus(), s.memoryMib(), s.volumes().stream().map(InstanceManager::shortName).toList(),
                s.nics().stream().map(InstanceManager::shortName).toList(), s.restart().name().toLowerCase(java.util.Locale.ROOT),
                i.restarts, i.lastExit, i.secureBoot,
                i.measurement == null ? null : java.util.HexFormat.of().formatHex(i.measurement.pcrs().value(1)),
                i.process == null ? null : i.restoredFrom);
    }

    /** Card shutdown: every hypervisor is stopped (their guests cannot run without the card's I/O). */
    @Override
    public void close() {
        closing = true;
        Process training = aotTraining;
        if (training != null) {
            training.destroyForcibly();
        }
        Map<Instance, Process> ps = new java.util.HashMap<>();
        synchronized (this) {
            for (Instance i : instances.values()) {
                if (i.process != null && i.process.isAlive()) {
                    ps.put(i, i.process);
                }
            }
        }
        terminateAll(ps);
    }
}
