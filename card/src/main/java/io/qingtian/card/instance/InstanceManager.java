package io.qingtian.card.instance;

import io.qingtian.acpi.GuestPlatform;
import io.qingtian.card.fs.Durable;
import io.qingtian.card.fs.Json;
import io.qingtian.card.volume.VolumeInfo;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.network.service.NetworkReply;
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
 * a private mount namespace, and {@code --seccomp}; a virtual thread per process waits for its
 * exit, records the reason, frees the cgroup and applies the restart policy.
 */
public final class InstanceManager implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(InstanceManager.class.getName());
    /** Memory the hypervisor's JVM needs besides guest RAM (heap, code, metaspace, stacks). */
    public static final long JVM_OVERHEAD = 256L << 20;

    private final Path root;
    private final HypervisorLauncher launcher;
    private final Confinement confinement;
    private final VolumeManager volumes;
    private final NetworkService network;
    private final CardTrust trust;
    private final Map<String, Instance> instances = new LinkedHashMap<>();
    private volatile boolean closing;

    public InstanceManager(Path root, HypervisorLauncher launcher, Confinement confinement, VolumeManager volumes,
            NetworkService network, CardTrust trust) throws IOException {
        this.root = root;
        this.launcher = launcher;
        this.confinement = confinement;
        this.volumes = volumes;
        this.network = network;
        this.trust = trust;
        Files.createDirectories(root);
        // confined hypervisors (other uids) must traverse to their own directory, not list others'
        Files.setPosixFilePermissions(root, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path d : dirs.sorted().toList()) {
                Path f = d.resolve("instance.json");
                if (Files.isRegularFile(f)) {
                    InstanceSpec s = Json.MAPPER.readValue(f.toFile(), InstanceSpec.class);
                    instances.put(s.id(), new Instance(s, freeSlot(), console(s.id())));
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
    public synchronized InstanceView create(InstanceSpec spec, boolean start) throws IOException {
        if (instances.containsKey(spec.id())) {
            throw new IllegalStateException("instance " + spec.name() + " already exists");
        }
        for (String v : spec.volumes()) {
            if (volumes.list().stream().noneMatch(i -> i.name().equals(v))) {
                throw new UserError("no volume " + shortName(v));
            }
        }
        Path dir = root.resolve(spec.id());
        Files.createDirectories(dir);
        Instance i = new Instance(spec, freeSlot(), console(spec.id()));
        instances.put(spec.id(), i);
        try {
            Durable.writeAtomically(dir.resolve("instance.json"), Json.MAPPER.writeValueAsBytes(spec));
            if (start) {
                launch(i);
            }
        } catch (IOException | RuntimeException e) {
            instances.remove(spec.id());
            deleteTree(dir);
            throw e;
        }
        return view(i);
    }

    public synchronized List<InstanceView> list(String tenant) {
        return instances.values().stream().filter(i -> tenant == null || i.spec.tenant().equals(tenant))
                .map(this::view).toList();
    }

    public synchronized Optional<InstanceView> get(String id) {
        return Optional.ofNullable(instances.get(id)).map(this::view);
    }

    public synchronized InstanceView start(String id) throws IOException {
        Instance i = need(id);
        if (i.process != null && i.process.isAlive()) {
            throw new IllegalStateException("instance " + i.spec.name() + " is already running");
        }
        i.consecutiveFailures = 0;
        launch(i);
        return view(i);
    }

    public InstanceView stop(String id) throws IOException {
        Process p;
        synchronized (this) {
            Instance i = need(id);
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
        terminate(p);
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
            terminate(p);
        }
        synchronized (this) {
            for (String v : i.spec.volumes()) {
                unexportQuietly(v);
            }
            instances.remove(id);
            deleteTree(root.resolve(id));
        }
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

    /** SIGTERM, then SIGKILL after 5 s; waits for the supervisor to record the exit. */
    private static void terminate(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            }
            Thread.sleep(50); // let the supervisor thread take the lock and record
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- launch --------------------------------------------------------------------------

    private void launch(Instance i) throws IOException {
        InstanceSpec s = i.spec;
        Path dir = root.resolve(s.id());
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
        List<Path> disks = new ArrayList<>();
        for (String v : s.volumes()) {
            disks.add(exportVolume(dir, v));
        }
        List<String> nets = new ArrayList<>();
        for (String n : s.nics()) {
            nets.add(exportNic(dir, n));
        }
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
        }
        List<String> hv = new ArrayList<>(launcher.command(kernel, initramfs, cmdline, s.cpus(), s.memoryMib(), disks, nets));
        if (i.measurement != null) { // the hypervisor refuses tables other than the measured ones
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
        i.cgroup = cg;
        i.state = InstanceState.RUNNING;
        i.stopRequested = false;
        Thread.ofVirtual().name("console-" + s.id()).start(() -> i.console.pump(p.getInputStream()));
        Thread.ofVirtual().name("supervise-" + s.id()).start(() -> supervise(i, p));
        LOG.info("instance " + s.id() + " launched, pid " + p.pid());
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
            ExitReason why = ExitReason.of(code, i.stopRequested || closing);
            i.lastExit = why;
            i.process = null;
            if (i.cgroup != null && !i.cgroup.remove()) {
                LOG.warning("cgroup of " + i.spec.id() + " could not be removed: " + i.cgroup.dirs());
            }
            LOG.info("instance " + i.spec.id() + " exited: " + why.meaning());
            if (i.deleted || i.stopRequested || closing) {
                i.state = InstanceState.STOPPED;
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
        }
        if (delay >= 0) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                return;
            }
            synchronized (this) {
                if (i.state != InstanceState.RESTARTING || i.deleted || closing) {
                    return;
                }
                try {
                    i.restarts++;
                    launch(i);
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "restart of " + i.spec.id() + " failed", e);
                    i.state = InstanceState.FAILED;
                }
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

    private String exportNic(Path dir, String nic) {
        NetworkReply.Config c = network.config();
        NetworkReply.NicInfo info = c.nics().stream().filter(n -> n.name().equals(nic)).findFirst()
                .orElseThrow(() -> new UserError("no nic " + shortName(nic)));
        String sock = c.exports().stream().filter(e -> e.name().equals(nic)).map(NetworkReply.ExportInfo::vhostUserSocket)
                .findFirst().orElse(null);
        if (sock == null) {
            sock = dir.resolve("nic-" + nic + ".sock").toString();
            network.exportNic(new NetworkRequest.NicExport(nic, sock));
        }
        return "socket=" + sock + ",mac=" + info.mac();
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
                    continue; // sockets: group access below; spec: the card's own
                }
                Files.setAttribute(p, "unix:uid", uid);
                Files.setAttribute(p, "unix:gid", gid);
            }
        }
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
                i.measurement == null ? null : java.util.HexFormat.of().formatHex(i.measurement.pcrs().value(1)));
    }

    /** Card shutdown: every hypervisor is stopped (their guests cannot run without the card's I/O). */
    @Override
    public void close() {
        closing = true;
        List<Process> ps;
        synchronized (this) {
            ps = instances.values().stream().map(i -> i.process).filter(p -> p != null && p.isAlive()).toList();
        }
        ps.forEach(InstanceManager::terminate);
    }
}
