package io.qingtian.hypervisor;

import io.qingtian.hypervisor.boot.KernelLoader;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.kvm.KvmFlavour;
import io.qingtian.sys.BoundedCall;
import io.qingtian.sys.ExitGuard;
import io.qingtian.sys.UserError;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code qt hypervisor}: runs one VM in this process. */
@Command(name = "hypervisor", mixinStandardHelpOptions = true,
        description = "The QingTian hypervisor: one KVM virtual machine per process.",
        subcommands = {HypervisorCommand.Run.class, io.qingtian.hypervisor.api.ApiClientCommand.class})
public final class HypervisorCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The lab command that runs a stock kernel on real KVM, for hosts whose KVM cannot. */
    public static final String LAB_HINT = "./qt lab run -- sh -c 'qt hypervisor run --kernel $QT_GUEST_KERNEL "
            + "--initramfs $QT_GUEST_INITRAMFS --cpus 2'";

    /** One line for hosts whose KVM cannot run stock guests, or null when it can. */
    public static String flavourWarning(KvmFlavour f) {
        if (f.runsStockGuests()) {
            return null;
        }
        return "qt: this host's /dev/kvm is " + f.describe() + "; a stock Linux kernel will stop early here. "
                + "Use the nested lab: " + LAB_HINT + " (trying anyway)";
    }

    /**
     * Peak and current RSS of this process from /proc/self/status, and how much of it is guest
     * RAM: shmem for memfd-backed RAM (RssShmem), anonymous otherwise (counted in RssAnon with
     * the JVM's heap, so only the memfd case separates them).
     */
    static String memoryReport() {
        try {
            java.util.Map<String, Long> kb = new java.util.HashMap<>();
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
                String[] f = line.split(":\\s+");
                if (f.length == 2 && f[1].endsWith(" kB")) {
                    kb.put(f[0], Long.parseLong(f[1].substring(0, f[1].length() - 3).trim()));
                }
            }
            long hwm = kb.getOrDefault("VmHWM", 0L);
            long shmem = kb.getOrDefault("RssShmem", 0L);
            return String.format("VmHWM %d MiB, VmRSS %d MiB (RssAnon %d, RssFile %d, RssShmem %d MiB); "
                            + "peak minus guest RAM touched (shmem) ~%d MiB",
                    hwm >> 10, kb.getOrDefault("VmRSS", 0L) >> 10, kb.getOrDefault("RssAnon", 0L) >> 10,
                    kb.getOrDefault("RssFile", 0L) >> 10, shmem >> 10, (hwm - shmem) >> 10);
        } catch (java.io.IOException | RuntimeException e) {
            return "unavailable (" + e.getMessage() + ")";
        }
    }

    /** Passes bytes through and remembers when the first one came (for -v boot timings). */
    static final class FirstByteClock extends java.io.FilterOutputStream {
        private volatile long first;

        FirstByteClock(java.io.OutputStream out) {
            super(out);
        }

        long firstByteNanos() {
            return first;
        }

        @Override
        public void write(int b) throws java.io.IOException {
            mark();
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
            mark();
            out.write(b, off, len);
        }

        private void mark() {
            if (first == 0) {
                first = System.nanoTime();
            }
        }
    }

    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Boots a Linux kernel (bzImage or PVH vmlinux) with the guest's serial console on stdout "
                    + "and stdin; the exit status is the guest's outcome:",
                    "  0 poweroff, 3 reboot, 4 guest crash (triple fault), 5 KVM cannot run the guest,",
                    "  1 hypervisor failure, 2 bad input, 6 stopped by the host (--timeout)."})
    static final class Run implements Callable<Integer> {
        @Option(names = "--kernel", paramLabel = "PATH", description = "bzImage or ELF vmlinux with a PVH note")
        Path kernel;

        // ---- Firecracker-compatible API (issue 8): the contract with the card's supervisor. ----
        @Option(names = "--api-sock", paramLabel = "PATH",
                description = "serve Firecracker's REST API on this Unix socket; without boot flags or --config-file "
                        + "the VM waits for its configuration and InstanceStart over the API")
        Path apiSock;

        @Option(names = "--config-file", paramLabel = "PATH",
                description = "boot from a Firecracker-format JSON file (boot-source, machine-config, drives, network-interfaces)")
        Path configFile;

        @Option(names = "--id", paramLabel = "NAME", description = "instance id reported by GET / (default: anonymous-instance)")
        String id;

        @Option(names = "--initramfs", paramLabel = "PATH", description = "initramfs image")
        Path initramfs;

        @Option(names = "--cmdline", paramLabel = "TEXT", description = "kernel command line (default: ${DEFAULT-VALUE})",
                defaultValue = VmConfig.DEFAULT_CMDLINE)
        String cmdline;

        @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "vCPUs (default ${DEFAULT-VALUE})")
        int cpus;

        @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "256M",
                description = "guest RAM, e.g. 256M or 1G (default ${DEFAULT-VALUE})")
        String memory;

        @Option(names = "--memory-backing", paramLabel = "KIND", defaultValue = "memfd",
                description = "memfd (shareable with the card's backends, default) or anonymous (private, "
                        + "transparent huge pages: faster boot under nested paging)")
        String backing;

        @Option(names = "--timeout", paramLabel = "SECONDS",
                description = "stop after this long, counted from the start of the command, VM build included (exit status 6); "
                        + "a process that has not ended 15 s later is halted with its stuck threads printed")
        Long timeoutSeconds;

        @Option(names = "--disk", paramLabel = "socket=PATH[,readonly][,queues=N]",
                description = "a virtio-blk disk served over vhost-user (e.g. by the card); repeatable")
        java.util.List<String> disks = new java.util.ArrayList<>();

        @Option(names = "--net", paramLabel = "socket=PATH[,mac=XX:XX:XX:XX:XX:XX]",
                description = "a virtio-net NIC served over vhost-user; repeatable")
        java.util.List<String> nets = new java.util.ArrayList<>();

        @Option(names = "--no-rng", description = "no virtio-rng entropy device (it is on by default)")
        boolean noRng;

        @Option(names = {"-v", "--verbose"}, description = "print how the VM ended even when it powered off")
        boolean verbose;

        // card-control: the card launches confined hypervisors with --seccomp (card/CONTROL.md).
        @Option(names = "--seccomp", description = "install the hypervisor's seccomp filter (io.qingtian.sys.Seccomp) "
                + "after the VM is built and before any guest code runs")
        boolean seccomp;

        // issue 7: the card passes the ACPI PCR value it measured; a VM whose tables differ does not start.
        @Option(names = "--expect-acpi-sha384", paramLabel = "HEX",
                description = "refuse to start (exit status 2) unless the generated ACPI tables measure to this "
                        + "value (the card's ACPI PCR: SHA-384 extend chain over the tables, trust/README.md)")
        String expectAcpiSha384;

        @Spec
        CommandSpec spec;

        /**
         * {@code --timeout} is absolute: it counts from here, the build included (a back-end
         * that accepts and never answers holds the build), and the {@link ExitGuard} ends the
         * process if the orderly stop itself hangs (a vCPU stuck in a device, a teardown that
         * waits for a peer). Without {@code --timeout} nothing changes.
         */
        @Override
        public Integer call() throws Exception {
            long start = System.nanoTime();
            if (timeoutSeconds != null) {
                if (timeoutSeconds < 1) {
                    throw new UserError("--timeout must be at least 1 second, not " + timeoutSeconds);
                }
                armExitGuard(start, timeoutSeconds);
            }
            if (expectAcpiSha384 != null) {
                AcpiExpectation.require(expectAcpiSha384);
            }
            if (apiSock != null || configFile != null) {
                return runWithApi(start);
            }
            if (kernel == null) {
                throw new UserError("give --kernel PATH, --config-file PATH or --api-sock PATH");
            }
            GuestRam.Backing kind = switch (backing) {
                case "memfd" -> GuestRam.Backing.SHARED_MEMFD;
                case "anonymous" -> GuestRam.Backing.PRIVATE_ANONYMOUS;
                default -> throw new UserError("--memory-backing must be memfd or anonymous, not '" + backing + "'");
            };
            VmConfig config = new VmConfig(new VmConfig.Machine(cpus, VmConfig.parseSize(memory), kind),
                    new VmConfig.BootSource(kernel, initramfs, cmdline),
                    new io.qingtian.hypervisor.vhostuser.PciDevicesConfig(
                            disks.stream().map(io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec::parseDisk).toList(),
                            nets.stream().map(io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec::parseNet).toList(),
                            !noRng));
            // All input checks before anything else is said or done: bad input is one line.
            KernelLoader.check(kernel, initramfs, config.boot().cmdline(),
                    GuestRam.lowBytes(config.machine().memoryBytes()));
            PrintStream err = System.err;
            String warning = flavourWarning(KvmFlavour.detect());
            if (warning != null) {
                err.println(warning);
            }
            VmExit exit;
            long t0 = System.nanoTime();
            FirstByteClock console = new FirstByteClock(new FileOutputStream(FileDescriptor.out));
            Console vmConsole = new Console(console, System.in);
            Vm built;
            if (timeoutSeconds == null) {
                built = VmBuilder.build(config, vmConsole);
            } else {
                try {
                    built = BoundedCall.call("vm-build", deadline(start, timeoutSeconds),
                            () -> VmBuilder.build(config, vmConsole), Vm::close);
                } catch (TimeoutException e) {
                    return stoppedWhileBuilding(err, e);
                }
            }
            try (Vm vm = built) {
                long t1 = System.nanoTime();
                if (seccomp) {
                    io.qingtian.sys.Seccomp.installHypervisorFilter();
                }
                vm.start();
                exit = timeoutSeconds == null ? vm.awaitExit()
                        : vm.awaitExit(Duration.ofNanos(Math.max(0, deadline(start, timeoutSeconds) - System.nanoTime())));
                if (exit == null) {
                    exit = new VmExit(ExitStatus.STOPPED, -1, "stopped after the " + timeoutSeconds + " s timeout");
                    vm.stop(exit);
                }
                if (verbose) {
                    long t2 = System.nanoTime();
                    err.printf("qt: JVM start to command %d ms, VM build %d ms, first console byte after %s ms, run %d ms%n",
                            java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() - (t2 - t0) / 1_000_000,
                            (t1 - t0) / 1_000_000,
                            console.firstByteNanos() == 0 ? "-" : Long.toString((console.firstByteNanos() - t1) / 1_000_000),
                            (t2 - t1) / 1_000_000);
                    err.println("qt: memory " + memoryReport());
                    vm.joinVcpus();
                    vm.describeVcpus().forEach(line -> System.err.println("qt: " + line));
                }
            }
            if (verbose || exit.status() != ExitStatus.POWEROFF) {
                err.println("qt: " + exit.detail() + " (exit status " + exit.code() + ")");
            }
            return exit.code();
        }

        private int stoppedWhileBuilding(PrintStream err, TimeoutException e) {
            // One line, as for every outcome; where the build was says which device held it.
            err.println("qt: stopped after the " + timeoutSeconds + " s timeout while the VM was still being built ("
                    + e.getMessage() + ") (exit status " + ExitStatus.STOPPED.code() + ")");
            err.flush();
            return ExitStatus.STOPPED.code();
        }

        /** API and/or config-file mode; boot flags (if any) configure the VM before it starts. */
        private Integer runWithApi(long start) throws InterruptedException {
            // --timeout (armed in call()) counts from the command's start in this mode too.
            if (kernel != null && configFile != null) {
                throw new UserError("give either --kernel or --config-file, not both");
            }
            java.util.function.Consumer<io.qingtian.hypervisor.api.VmmController> preset = kernel == null ? null : vmm -> {
                vmm.setMachineConfig(cpus, VmConfig.parseSize(memory) >> 20);
                vmm.setBootSource(kernel.toString(), initramfs == null ? null : initramfs.toString(), cmdline);
                for (int i = 0; i < disks.size(); i++) {
                    vmm.putDrive("disk" + i, io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec.parseDisk(disks.get(i)));
                }
                for (int i = 0; i < nets.size(); i++) {
                    vmm.putNetworkInterface("net" + i, io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec.parseNet(nets.get(i)));
                }
            };
            if (seccomp) {
                // Before the API serves anything: every VM this process builds or restores, and
                // the API server itself, run under the filter (the card launches with --seccomp).
                io.qingtian.sys.Seccomp.installHypervisorFilter();
            }
            return io.qingtian.hypervisor.api.ApiRunner.run(apiSock, configFile, preset, id,
                    new Console(new FileOutputStream(FileDescriptor.out), System.in), timeoutSeconds,
                    flavourWarning(KvmFlavour.detect()), System.err, start);
        }
    }

    /** When {@code --timeout S} from {@code startNanos} ends ({@link System#nanoTime} scale). */
    public static long deadline(long startNanos, long timeoutSeconds) {
        return startNanos + Duration.ofSeconds(timeoutSeconds).toNanos();
    }

    /**
     * The guard behind an absolute {@code --timeout}: {@link ExitGuard#GRACE} after the
     * timeout, a process still running says so, prints where its threads are (the vCPUs,
     * the build, whatever is not a daemon) and halts with STOPPED (6).
     */
    public static void armExitGuard(long startNanos, long timeoutSeconds) {
        ExitGuard.arm(deadline(startNanos, timeoutSeconds) + ExitGuard.GRACE.toNanos(), ExitStatus.STOPPED.code(),
                "qt: the process did not end within " + (ExitGuard.GRACE.toMillis() / 1000) + " s after the "
                        + timeoutSeconds + " s timeout; halting (exit status " + ExitStatus.STOPPED.code() + "). Threads:",
                ExitGuard.nonDaemonOr("vcpu-", "vm-build", "vhost-user"));
    }
}
