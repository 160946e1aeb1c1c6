package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What to run in L1 and with what.
 *
 * <pre>{@code
 * LabRequest req = LabRequest.of("sh", "-c", "ls /dev/kvm")
 *         .withCpus(2).withMemoryMiB(2048).withTimeout(Duration.ofMinutes(2))
 *         .withFile(Path.of("build/payload.bin"), "/tmp/payload.bin");
 * }</pre>
 *
 * @param cpus      L1 vCPUs (TCG threads), 1..64
 * @param memoryMiB L1 RAM in MiB, at least 256
 * @param timeout   for the whole run (L1 boot + command); then QEMU is killed and the result
 *                  says {@link LabResult#timedOut()}
 * @param files     host files or directories copied into L1's RAM file system before the command
 * @param disks     host raw images attached as extra virtio-blk disks, {@code /dev/vdb},
 *                  {@code /dev/vdc}, ... in this order (vda is the lab's own disk); a writable one
 *                  is also a way to bring results back (the command writes it, the host reads it)
 * @param command   the program and its arguments, run in {@code /tmp} with {@code qt} and
 *                  {@code java} on PATH; arguments are passed verbatim (no shell expansion), so
 *                  use {@code sh -c '... "$QT_GUEST_KERNEL" ...'} to expand variables
 */
public record LabRequest(int cpus, int memoryMiB, Duration timeout, List<FileMapping> files, List<Disk> disks,
                         List<String> command) {
    public static final int DEFAULT_CPUS = 2;
    public static final int DEFAULT_MEMORY_MIB = 2048;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);

    public LabRequest {
        files = List.copyOf(files);
        disks = List.copyOf(disks);
        command = List.copyOf(command);
        if (disks.size() > 20) {
            throw new UserError("lab: at most 20 extra disks, not " + disks.size());
        }
        if (command.isEmpty()) {
            throw new UserError("lab: no command given (usage: qt lab run [OPTIONS] -- COMMAND [ARGS...])");
        }
        if (cpus < 1 || cpus > 64) {
            throw new UserError("lab: --cpus must be between 1 and 64, not " + cpus);
        }
        if (memoryMiB < 256) {
            throw new UserError("lab: --memory must be at least 256M (L1 runs a JDK), not " + memoryMiB + "M");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new UserError("lab: --timeout must be positive, not " + timeout.toSeconds() + " s");
        }
    }

    /** {@code command} with the defaults: 2 vCPUs, 2048 MiB, 300 s, no files. */
    public static LabRequest of(String... command) {
        return new LabRequest(DEFAULT_CPUS, DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT, List.of(), List.of(), List.of(command));
    }

    public LabRequest withCpus(int n) {
        return new LabRequest(n, memoryMiB, timeout, files, disks, command);
    }

    public LabRequest withMemoryMiB(int mib) {
        return new LabRequest(cpus, mib, timeout, files, disks, command);
    }

    public LabRequest withTimeout(Duration t) {
        return new LabRequest(cpus, memoryMiB, t, files, disks, command);
    }

    /** Puts host file or directory {@code host} at absolute path {@code guestPath} in L1. */
    public LabRequest withFile(Path host, String guestPath) {
        List<FileMapping> f = new ArrayList<>(files);
        f.add(new FileMapping(host, guestPath));
        return new LabRequest(cpus, memoryMiB, timeout, f, disks, command);
    }

    /** Attaches the raw image {@code image} as the next extra disk ({@code /dev/vdb} first). */
    public LabRequest withDisk(Path image, boolean writable) {
        List<Disk> d = new ArrayList<>(disks);
        d.add(new Disk(image, writable));
        return new LabRequest(cpus, memoryMiB, timeout, files, d, command);
    }

    /** A raw disk image on the host and whether L1 may write it. */
    public record Disk(Path image, boolean writable) {
        /** Parses {@code HOST_IMAGE} or {@code HOST_IMAGE:ro} / {@code HOST_IMAGE:rw} (default rw). */
        public static Disk parse(String spec) {
            if (spec.endsWith(":ro")) {
                return new Disk(Path.of(spec.substring(0, spec.length() - 3)), false);
            }
            return new Disk(Path.of(spec.endsWith(":rw") ? spec.substring(0, spec.length() - 3) : spec), true);
        }
    }

    /** A host path and where it appears in L1. */
    public record FileMapping(Path host, String guestPath) {
        public FileMapping {
            if (!guestPath.startsWith("/") || guestPath.equals("/")) {
                throw new UserError("lab: the L1 path '" + guestPath + "' for " + host + " must be an absolute path below /");
            }
        }

        /** Parses {@code HOST_PATH:L1_PATH} (split at the last ':'). */
        public static FileMapping parse(String spec) {
            int colon = spec.lastIndexOf(':');
            if (colon <= 0 || colon == spec.length() - 1) {
                throw new UserError("lab: --file '" + spec + "' must be HOST_PATH:L1_PATH");
            }
            return new FileMapping(Path.of(spec.substring(0, colon)), spec.substring(colon + 1));
        }
    }
}
