package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.URISyntaxException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The nested lab: runs a command inside L1, a stock Debian cloud kernel booted by QEMU TCG on
 * an emulated AMD EPYC with SVM and nested paging, where {@code /dev/kvm} is a real upstream KVM
 * ({@code kvm-amd}). Tests use it to run the hypervisor and stock Linux L2 guests on real KVM on
 * hosts whose own /dev/kvm cannot (see ENVIRONMENT.md).
 *
 * <pre>{@code
 * LabResult r = new Lab().run(LabRequest.of("sh", "-c", "grep -c svm /proc/cpuinfo"));
 * r.exitCode(); r.stdout(); r.timings().l1BootMillis();
 * }</pre>
 *
 * <p>Inside L1: {@code qt} (the project's CLI on a jlink JDK 25) and {@code java} are on PATH;
 * {@code $QT_GUEST_KERNEL} is the stock kernel (bzImage), {@code $QT_GUEST_INITRAMFS} a busybox
 * initramfs whose init prints {@link GuestInitramfs#DEFAULT_MARKER} and powers off,
 * {@code $QT_GUEST_MODULES} the kernel's module tree ({@code modprobe} works); {@code /tmp} and
 * the root file system are writable RAM. The command's stdout and stderr come back separately
 * over their own serial ports and are streamed to the sinks while it runs. The first call
 * builds the L1 image into the cache ({@link LabCache}); later calls reuse it.
 */
public final class Lab {
    /** Exit code of a run that hit its timeout (as coreutils' {@code timeout}). */
    public static final int TIMEOUT_EXIT = 124;
    /** Exit code when L1 stopped without reporting the command's status (e.g. a kernel panic). */
    public static final int LAB_FAILURE_EXIT = 125;

    private static final long POWEROFF_GRACE_NANOS = 15_000_000_000L;
    private static final String READY = "qt-lab: ready";
    private static final String EXIT = "qt-lab: exit ";
    private static final String ERROR = "qt-lab: error ";
    private static final String JVM_CRASH = "qt-lab: jvm-crash ";
    private static final String L2_TRIPLE_FAULT = "qt-lab: l2-triple-fault ";
    /** How {@code qt hypervisor run} reports an L2 triple fault (VcpuRunner). */
    private static final String TRIPLE_FAULT_LINE = "guest triple fault (KVM_EXIT_SHUTDOWN)";

    private final LabCache cache;
    private final Path dist;
    private final Path javaHome;

    /** A lab with the default cache, the packaged project ({@link #defaultDist()}) and this JDK. */
    public Lab() {
        this(LabCache.defaultCache(), defaultDist(), defaultJavaHome());
    }

    /**
     * @param cache    where inputs and built images are kept
     * @param dist     the packaged project, {@code cli/target/qt} (qingtian-cli.jar + lib/)
     * @param javaHome a JDK 25 (with jlink) to make L1's runtime from
     */
    public Lab(LabCache cache, Path dist, Path javaHome) {
        this.cache = cache;
        this.dist = dist;
        this.javaHome = javaHome;
    }

    /** Runs {@code request}; output is captured in the result only. */
    public LabResult run(LabRequest request) {
        return run(request, OutputStream.nullOutputStream(), OutputStream.nullOutputStream(), OutputStream.nullOutputStream());
    }

    /** Runs {@code request}, streaming the command's stdout and stderr to the sinks as it runs. */
    public LabResult run(LabRequest request, OutputStream stdoutSink, OutputStream stderrSink) {
        return run(request, stdoutSink, stderrSink, OutputStream.nullOutputStream());
    }

    /**
     * Runs {@code request}, streaming stdout, stderr and L1's kernel console to the sinks.
     *
     * @throws UserError (exit code {@link #LAB_FAILURE_EXIT}) if L1 stops without reporting the
     *                   command's exit status; the message has the end of the console log
     */
    public LabResult run(LabRequest request, OutputStream stdoutSink, OutputStream stderrSink, OutputStream consoleSink) {
        try {
            return runChecked(request, stdoutSink, stderrSink, consoleSink);
        } catch (IOException e) {
            throw new UncheckedIOException("lab: " + e.getMessage(), e);
        }
    }

    private LabResult runChecked(LabRequest req, OutputStream stdoutSink, OutputStream stderrSink, OutputStream consoleSink)
            throws IOException {
        HostTools.require("qemu-system-x86_64", "qemu-system-x86");
        for (LabRequest.FileMapping f : req.files()) {
            if (!Files.exists(f.host())) {
                throw new UserError("lab: --file " + f.host() + ": no such file or directory on the host");
            }
        }
        for (LabRequest.Disk d : req.disks()) {
            if (!Files.isRegularFile(d.image())) {
                throw new UserError("lab: --disk " + d.image() + ": no such file on the host (create it first, e.g. truncate -s 64M IMAGE)");
            }
            if (d.image().toString().contains(",")) {
                throw new UserError("lab: --disk " + d.image() + ": the path must not contain ','");
            }
        }
        L1Image.Parts l1 = L1Image.prepare(cache, dist, javaHome);
        long deadline = System.nanoTime() + req.timeout().toNanos();
        try {
            try {
                return boot(req, l1, req.timeout().toMillis(), true, stdoutSink, stderrSink, consoleSink);
            } catch (EmulatorFault e) {
                // L1's emulated CPU misexecuted code: nothing this run did can be trusted, and a
                // fresh L1 does not inherit the fault. Once only: a fault that repeats is reported.
                stderrSink.write(("lab: " + e.getMessage() + "; rerunning once in a fresh L1\n").getBytes(StandardCharsets.UTF_8));
                deadline = System.nanoTime() + req.timeout().toNanos();
                return boot(req, l1, req.timeout().toMillis(), false, stdoutSink, stderrSink, consoleSink);
            }
        } catch (NotBooted e) {
            // Nothing of the command ran, so one more try is safe. TCG on a loaded host can miss
            // a boot-time deadline (e.g. the IO-APIC timer check) that real hardware never does.
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left < 1000) {
                throw e;
            }
            System.err.println("lab: L1 did not come up (" + e.getMessage() + "); retrying once");
            return boot(req, l1, left, false, stdoutSink, stderrSink, consoleSink);
        }
    }

    /**
     * A JVM in L1 died of SIGILL, or an L2 guest triple-faulted. The same class files run
     * everywhere else, and the JIT only emits instructions the (emulated) CPU claims to have, so
     * a SIGILL is QEMU TCG executing code another L1 vCPU thread was patching (bench/pci/README.md
     * has the case that found it). L2 triple faults came at the guest's very first exit, with no
     * device of ours touched, and a hung L2 showed L1's own RIP, RSP and CR3 in its saved state:
     * the nested SVM underneath (QEMU 7.2 TCG, or L1 KVM on it) corrupts the guest's state
     * (bench/lab/triple-fault.sh reproduces it).
     */
    private static final class EmulatorFault extends IOException {
        EmulatorFault(String message) {
            super(message);
        }
    }

    /** L1 stopped before its init was ready to run the command. */
    private static final class NotBooted extends UserError {
        NotBooted(String message) {
            super(message, LAB_FAILURE_EXIT);
        }
    }

    private LabResult boot(LabRequest req, L1Image.Parts l1, long timeoutMillis, boolean mayRerun, OutputStream stdoutSink,
                           OutputStream stderrSink, OutputStream consoleSink) throws IOException {
        Path qemu = HostTools.require("qemu-system-x86_64", "qemu-system-x86");
        Path run = Files.createTempDirectory("qt-lab");
        List<ServerSocketChannel> servers = new ArrayList<>();
        Process process = null;
        Thread hook = null;
        try {
            Path initrd = run.resolve("initrd.cpio");
            writeInitrd(initrd, l1, req, diagnosticsAt(timeoutMillis));
            List<String> cmd = new ArrayList<>(List.of(qemu.toString(),
                    "-M", "q35", "-accel", "tcg,thread=multi", "-cpu", "EPYC,+svm,+npt",
                    "-smp", Integer.toString(req.cpus()), "-m", req.memoryMiB() + "M",
                    "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                    "-kernel", l1.kernel().bzImage().toString(), "-initrd", initrd.toString(),
                    "-append", kernelCommandLine(),
                    "-drive", "file=" + l1.disk() + ",if=none,id=lab,format=raw,readonly=on",
                    "-device", "virtio-blk-pci,drive=lab"));
            for (int i = 0; i < req.disks().size(); i++) {
                LabRequest.Disk d = req.disks().get(i);
                cmd.addAll(List.of("-drive", "file=" + d.image().toAbsolutePath() + ",if=none,id=d" + i + ",format=raw"
                                + (d.writable() ? "" : ",readonly=on"),
                        "-device", "virtio-blk-pci,drive=d" + i));
            }
            for (int i = 0; i < 4; i++) {
                Path sock = run.resolve("s" + i);
                ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                s.bind(UnixDomainSocketAddress.of(sock));
                servers.add(s);
                cmd.addAll(List.of("-chardev", "socket,id=s" + i + ",path=" + sock, "-serial", "chardev:s" + i));
            }
            Channel console = new Channel(consoleSink);
            Channel out = new Channel(stdoutSink);
            Channel err = new Channel(stderrSink);
            Control control = new Control();
            Path qemuLog = run.resolve("qemu.log");
            long start = System.nanoTime();
            process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(qemuLog.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
            Process p = process;
            java.util.concurrent.atomic.AtomicBoolean stopping = new java.util.concurrent.atomic.AtomicBoolean();
            hook = new Thread(() -> {
                // Ctrl-C on qt lab run: QEMU and this run's files must not outlive us.
                stopping.set(true);
                p.destroyForcibly();
                p.onExit().join();
                try {
                    LabCache.deleteTree(run);
                } catch (IOException ignored) {
                    // best effort at shutdown
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            List<Thread> pumps = List.of(
                    pump(servers.get(0), console), pump(servers.get(1), out), pump(servers.get(2), err),
                    pump(servers.get(3), control));
            boolean finished = false;
            long deadline = start + timeoutMillis * 1_000_000L;
            try {
                int crashesSeen = 0;
                int tripleFaultsSeen = 0;
                while (!finished && System.nanoTime() < deadline) {
                    finished = p.waitFor(Math.min(200, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)), TimeUnit.MILLISECONDS);
                    String fault = null;
                    for (; crashesSeen < control.jvmCrashes.size(); crashesSeen++) {
                        String crash = control.jvmCrashes.get(crashesSeen);
                        err.append(("lab: a JVM in L1 crashed: " + crash + "\n").getBytes(StandardCharsets.UTF_8));
                        if (crash.contains("SIGILL")) {
                            fault = "a JVM in L1 died of SIGILL (" + crash + "), an emulated-CPU fault";
                        }
                    }
                    for (; tripleFaultsSeen < control.l2TripleFaults.size(); tripleFaultsSeen++) {
                        String where = control.l2TripleFaults.get(tripleFaultsSeen);
                        err.append(("lab: an L2 guest triple-faulted (" + where + ")\n").getBytes(StandardCharsets.UTF_8));
                        fault = "an L2 guest triple-faulted (" + where + "), an emulated-SVM fault";
                    }
                    if (mayRerun && fault != null) {
                        p.destroyForcibly();
                        p.onExit().join();
                        throw new EmulatorFault(fault);
                    }
                    if (!finished && control.exitAt != Control.NOT_YET && System.nanoTime() - control.exitAt > POWEROFF_GRACE_NANOS) {
                        // The command's status is in; an L1 that does not power off must not turn it into a timeout.
                        p.destroyForcibly();
                        p.onExit().join();
                        finished = true;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (!finished) {
                p.destroyForcibly();
                p.onExit().join();
            }
            for (ServerSocketChannel s : servers) {
                s.close(); // unblocks a pump still waiting in accept() if QEMU never connected
            }
            for (Thread t : pumps) {
                try {
                    t.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            boolean ready = control.readyAt != Control.NOT_YET;
            long boot = ready ? (control.readyAt - start) / 1_000_000 : -1;
            long command = ready && control.exitAt != Control.NOT_YET ? (control.exitAt - control.readyAt) / 1_000_000 : -1;
            LabResult.Timings timings = new LabResult.Timings(boot, command);
            if (!finished) {
                if (mayRerun && showsTripleFault(out, err)) {
                    throw new EmulatorFault("the command timed out after an L2 guest triple-faulted, an emulated-SVM fault");
                }
                // The kernel's last words tell a wedged L1 (soft lockups, hung tasks) from a hung command.
                String consoleText = console.text().strip();
                err.append(("lab: the command did not finish within " + timeoutMillis / 1000 + " s"
                        + (ready ? "" : " (L1 never became ready)") + "; L1 console ends:\n"
                        + (consoleText.isEmpty() ? "(nothing)" : HostTools.lastLines(consoleText, 12)) + "\n").getBytes(StandardCharsets.UTF_8));
                return new LabResult(TIMEOUT_EXIT, out.text(), err.text(), true, timings, console.text(), List.copyOf(control.jvmCrashes));
            }
            if (stopping.get()) {
                throw new UserError("lab: stopped because this process is exiting (signal)", 130);
            }
            if (control.exitCode == null) {
                String qemuOut = String.join("\n", Files.readString(qemuLog).lines()
                        .filter(l -> !l.contains("TCG doesn't support requested feature")).toList()).strip();
                String consoleText = console.text().strip();
                String panic = consoleText.lines().filter(l -> l.contains("Kernel panic")).findFirst().orElse("");
                String message = "lab: L1 stopped " + (!ready ? "before its init was ready" : "without reporting the command's exit status")
                        + (control.errors.isEmpty() ? "" : "; " + String.join("; ", control.errors))
                        + (qemuOut.isEmpty() ? "" : "; QEMU said: " + HostTools.lastLines(qemuOut, 3))
                        + (panic.isEmpty() ? "" : "; " + panic.strip())
                        + "; console ends: " + HostTools.lastLines(consoleText, 8);
                throw !ready ? new NotBooted(message) : new UserError(message, LAB_FAILURE_EXIT);
            }
            if (!control.errors.isEmpty()) {
                err.append(("lab: " + String.join("; ", control.errors) + "\n").getBytes(StandardCharsets.UTF_8));
            }
            if (mayRerun && control.exitCode != 0 && showsTripleFault(out, err)) {
                throw new EmulatorFault("the command failed after an L2 guest triple-faulted, an emulated-SVM fault");
            }
            return new LabResult(control.exitCode, out.text(), err.text(), false, timings, console.text(), List.copyOf(control.jvmCrashes));
        } finally {
            if (process != null && process.isAlive()) {
                process.destroyForcibly();
            }
            if (hook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException ignored) {
                    // JVM shutting down: the hook kills QEMU
                }
            }
            for (ServerSocketChannel s : servers) {
                s.close();
            }
            LabCache.deleteTree(run);
        }
    }

    /** Whether the command's own output has qt hypervisor run's triple-fault line. */
    private static boolean showsTripleFault(Channel out, Channel err) {
        return out.text().contains(TRIPLE_FAULT_LINE) || err.text().contains(TRIPLE_FAULT_LINE);
    }

    /**
     * L1's kernel command line; {@code $QT_LAB_KERNEL_ARGS} is appended (e.g. {@code loglevel=7}
     * to see the whole boot on the console).
     */
    static String kernelCommandLine() {
        String extra = System.getenv("QT_LAB_KERNEL_ARGS");
        // no_timer_check: under TCG on a loaded host the IO-APIC timer check can miss its window
        // and panic ("IO-APIC + timer doesn't work!"); the emulated timer does work.
        return "console=ttyS0 quiet panic=-1 8250.nr_uarts=4 cryptomgr.notests no_timer_check" + (extra == null || extra.isBlank() ? "" : " " + extra.strip());
    }

    /** base + qt + this run's files and command, concatenated (the kernel unpacks each in turn). */
    /**
     * When (seconds of L1 uptime) L1 prints its state to the command's stderr if the command
     * still runs, so a hang explains itself (L1Init's {@code diag}):
     * {@value #DIAGNOSTICS_LEAD_SECONDS} s before the run's timeout (the dump takes ~10 s under
     * TCG), halfway for runs shorter than two minutes, never below 10 s.
     */
    static long diagnosticsAt(long timeoutMillis) {
        long seconds = timeoutMillis / 1000;
        return seconds >= 120 ? seconds - DIAGNOSTICS_LEAD_SECONDS : seconds >= 10 ? seconds / 2 : 0;
    }

    private static final long DIAGNOSTICS_LEAD_SECONDS = 45;

    private static void writeInitrd(Path initrd, L1Image.Parts l1, LabRequest req, long diagnosticsAt) throws IOException {
        Files.copy(l1.baseCpio(), initrd);
        try (OutputStream os = Files.newOutputStream(initrd, StandardOpenOption.APPEND)) {
            Files.copy(l1.qtCpio(), os);
            try (CpioWriter cpio = new CpioWriter(new java.io.BufferedOutputStream(os))) {
                for (LabRequest.FileMapping f : req.files()) {
                    addHost(cpio, f.host(), f.guestPath());
                }
                cpio.file("qt-lab/command", 0644, commandScript(req.command()).getBytes(StandardCharsets.UTF_8));
                cpio.file("qt-lab/diag-at", 0644, (diagnosticsAt + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static void addHost(CpioWriter cpio, Path host, String guest) throws IOException {
        if (Files.isSymbolicLink(host)) {
            cpio.symlink(guest, Files.readSymbolicLink(host).toString());
        } else if (Files.isDirectory(host)) {
            cpio.directory(guest, mode(host));
            try (Stream<Path> s = Files.list(host)) {
                for (Path child : s.sorted().toList()) {
                    addHost(cpio, child, guest + "/" + child.getFileName());
                }
            }
        } else {
            cpio.file(guest, mode(host), host);
        }
    }

    private static int mode(Path p) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
        int m = 0;
        for (PosixFilePermission perm : perms) {
            m |= 1 << (8 - perm.ordinal());
        }
        return m;
    }

    /** The command as a shell script: each argument single-quoted, so it runs exactly as given. */
    static String commandScript(List<String> command) {
        StringBuilder sb = new StringBuilder();
        for (String arg : command) {
            if (!sb.isEmpty()) {
                sb.append(' ');
            }
            sb.append('\'').append(arg.replace("'", "'\\''")).append('\'');
        }
        return sb.append('\n').toString();
    }

    private static Thread pump(ServerSocketChannel server, Sink sink) {
        return Thread.ofVirtual().name("lab-pump").start(() -> {
            try (SocketChannel c = server.accept()) {
                ByteBuffer buf = ByteBuffer.allocate(1 << 14);
                while (c.read(buf) >= 0) {
                    buf.flip();
                    byte[] b = new byte[buf.remaining()];
                    buf.get(b);
                    buf.clear();
                    sink.append(b);
                }
            } catch (IOException e) {
                // QEMU gone or never connected: the run's outcome says what happened
            }
        });
    }

    private interface Sink {
        void append(byte[] bytes);
    }

    /** A captured and streamed output channel. */
    private static final class Channel implements Sink {
        private final ByteArrayOutputStream captured = new ByteArrayOutputStream();
        private final OutputStream sink;

        Channel(OutputStream sink) {
            this.sink = sink;
        }

        @Override
        public synchronized void append(byte[] bytes) {
            captured.writeBytes(bytes);
            try {
                sink.write(bytes);
                sink.flush();
            } catch (IOException e) {
                // a closed sink must not stop the capture
            }
        }

        synchronized String text() {
            return captured.toString(StandardCharsets.UTF_8);
        }
    }

    /** Parses the control port's lines. */
    private static final class Control implements Sink {
        private final StringBuilder line = new StringBuilder();
        static final long NOT_YET = Long.MIN_VALUE; // System.nanoTime() may be negative
        volatile long readyAt = NOT_YET;
        volatile long exitAt = NOT_YET;
        volatile Integer exitCode;
        final List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<String> jvmCrashes = new java.util.concurrent.CopyOnWriteArrayList<>();
        final List<String> l2TripleFaults = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public void append(byte[] bytes) {
            for (byte b : bytes) {
                if (b == '\n') {
                    handle(line.toString().strip());
                    line.setLength(0);
                } else if (b != '\r') {
                    line.append((char) (b & 0xff));
                }
            }
        }

        private void handle(String l) {
            if (l.equals(READY)) {
                readyAt = System.nanoTime();
            } else if (l.startsWith(EXIT)) {
                exitAt = System.nanoTime();
                try {
                    exitCode = Integer.parseInt(l.substring(EXIT.length()).strip());
                } catch (NumberFormatException e) {
                    errors.add("bad exit line '" + l + "'");
                }
            } else if (l.startsWith(ERROR)) {
                errors.add(l.substring(ERROR.length()));
            } else if (l.startsWith(JVM_CRASH)) {
                jvmCrashes.add(l.substring(JVM_CRASH.length()));
            } else if (l.startsWith(L2_TRIPLE_FAULT)) {
                l2TripleFaults.add(l.substring(L2_TRIPLE_FAULT.length()));
            }
        }
    }

    /**
     * The packaged project (qingtian-cli.jar + lib/): {@code $QT_DIST}, else the directory this
     * class was loaded from when it is {@code .../qt/lib/}, else {@code cli/target/qt} in the
     * working directory or one of its parents.
     */
    public static Path defaultDist() {
        String env = System.getenv("QT_DIST");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath();
        }
        try {
            Path here = Path.of(Lab.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path parent = here.getParent() == null ? null : here.getParent().getParent();
            if (parent != null && Files.isRegularFile(parent.resolve("qingtian-cli.jar"))) {
                return parent;
            }
        } catch (URISyntaxException | RuntimeException ignored) {
            // fall through to the search from the working directory
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path dist = d.resolve("cli/target/qt");
            if (Files.isRegularFile(dist.resolve("qingtian-cli.jar"))) {
                return dist;
            }
        }
        throw new UserError("lab: cannot find the packaged project (cli/target/qt/qingtian-cli.jar): run ./qt once or set QT_DIST");
    }

    /** {@code $JAVA_HOME} if it is a JDK with jlink, else the running JVM's home. */
    public static Path defaultJavaHome() {
        String env = System.getenv("JAVA_HOME");
        if (env != null && Files.isExecutable(Path.of(env, "bin", "jlink"))) {
            return Path.of(env);
        }
        return Path.of(System.getProperty("java.home"));
    }
}
