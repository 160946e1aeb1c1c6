package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code qt lab}: the nested KVM lab. */
@Command(name = "lab", mixinStandardHelpOptions = true,
        description = "The nested lab: stock Linux on a real KVM (kvm-amd) inside QEMU TCG.",
        subcommands = {LabCommand.Run.class, KvmSmoke.class})
public final class LabCommand implements Runnable {
    @Override
    public void run() {
        picocli.CommandLine.usage(this, System.out);
    }

    /** {@code qt lab run [--cpus N] [--memory SIZE] [--timeout S] [--file H:G]... -- COMMAND [ARGS...]}. */
    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Runs COMMAND inside L1 and exits with its exit status (124 on timeout).",
                    "Inside L1, qt and java are on PATH and $QT_GUEST_KERNEL is the stock guest kernel."})
    public static final class Run implements Callable<Integer> {
        @Option(names = "--cpus", description = "L1 vCPUs (default ${DEFAULT-VALUE})", defaultValue = "2")
        int cpus;

        @Option(names = "--memory", description = "L1 memory, e.g. 2G or 1536M (default ${DEFAULT-VALUE})", defaultValue = "2G")
        String memory;

        @Option(names = "--timeout", description = "seconds for boot + command (default ${DEFAULT-VALUE})", defaultValue = "300")
        long timeoutSeconds;

        @Option(names = "--file", paramLabel = "HOST_PATH:L1_PATH", description = "copy a host file or directory into L1 (repeatable)")
        List<String> files = new ArrayList<>();

        @Option(names = "--disk", paramLabel = "HOST_IMAGE[:ro]", description = "attach a raw image as /dev/vdb, /dev/vdc, ... (repeatable; writable unless :ro)")
        List<String> disks = new ArrayList<>();

        @Option(names = "--timings", negatable = true, defaultValue = "true", description = "print L1 boot and command times to stderr (default on)")
        boolean timings;

        @Option(names = "--console", description = "also stream L1's kernel console to stderr")
        boolean console;

        @Parameters(paramLabel = "COMMAND", arity = "1..*", description = "command and arguments (after --)")
        List<String> command;

        @Override
        public Integer call() {
            if (timeoutSeconds <= 0) {
                throw new UserError("lab: --timeout must be a positive number of seconds, not " + timeoutSeconds);
            }
            LabRequest req = new LabRequest(cpus, Sizes.parseMiB(memory), Duration.ofSeconds(timeoutSeconds), List.of(), List.of(), command);
            for (String d : disks) {
                LabRequest.Disk disk = LabRequest.Disk.parse(d);
                req = req.withDisk(disk.image(), disk.writable());
            }
            for (String f : files) {
                LabRequest.FileMapping m = LabRequest.FileMapping.parse(f);
                req = req.withFile(m.host(), m.guestPath());
            }
            LabResult r = new Lab().run(req, System.out, System.err, console ? System.err : java.io.OutputStream.nullOutputStream());
            System.out.flush();
            if (r.timedOut()) {
                System.err.println("lab: timed out after " + timeoutSeconds + " s (" + r.timings() + ")");
            } else if (timings) {
                System.err.println("lab: " + r.timings());
            }
            return r.exitCode();
        }
    }

}
