package io.qingtian.card.instance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The cgroup of one hypervisor: CPU quota ({@code cpus} whole CPUs per 100 ms period) and a
 * memory limit. cgroup v2 when {@code /sys/fs/cgroup/cgroup.controllers} exists (one directory,
 * {@code cpu.max}, {@code memory.max}); otherwise the v1 hierarchies {@code cpu} and
 * {@code memory} (two directories, {@code cpu.cfs_quota_us}, {@code memory.limit_in_bytes}).
 * The launcher script writes its own pid into {@link #procsFiles()} before exec'ing the
 * hypervisor, so the whole process tree is accounted from its first instruction.
 */
public final class Cgroup {
    static final Path ROOT = Path.of("/sys/fs/cgroup");
    static final long PERIOD_US = 100_000;
    private final List<Path> dirs;

    private Cgroup(List<Path> dirs) {
        this.dirs = dirs;
    }

    public static boolean v2() {
        return Files.exists(ROOT.resolve("cgroup.controllers"));
    }

    /** Creates {@code qingtian/NAME} with the limits; fails (IOException) if cgroups are not writable. */
    public static Cgroup create(String name, int cpus, long memoryBytes) throws IOException {
        List<Path> dirs = new ArrayList<>();
        if (v2()) {
            Path parent = ROOT.resolve("qingtian");
            Files.createDirectories(parent);
            // enable the controllers for the children of qingtian/ (cgroup-v2.rst "Controlling Controllers")
            tryWrite(ROOT.resolve("cgroup.subtree_control"), "+cpu +memory");
            tryWrite(parent.resolve("cgroup.subtree_control"), "+cpu +memory");
            Path d = parent.resolve(name);
            Files.createDirectories(d);
            dirs.add(d);
            Files.writeString(d.resolve("cpu.max"), (cpus * PERIOD_US) + " " + PERIOD_US);
            Files.writeString(d.resolve("memory.max"), Long.toString(memoryBytes));
        } else {
            Path cpu = ROOT.resolve("cpu/qingtian/" + name);
            Path mem = ROOT.resolve("memory/qingtian/" + name);
            Files.createDirectories(cpu);
            Files.createDirectories(mem);
            dirs.add(cpu);
            dirs.add(mem);
            Files.writeString(cpu.resolve("cpu.cfs_period_us"), Long.toString(PERIOD_US));
            Files.writeString(cpu.resolve("cpu.cfs_quota_us"), Long.toString(cpus * PERIOD_US));
            Files.writeString(mem.resolve("memory.limit_in_bytes"), Long.toString(memoryBytes));
        }
        return new Cgroup(dirs);
    }

    private static void tryWrite(Path f, String s) {
        try {
            Files.writeString(f, s);
        } catch (IOException ignored) {
            // already enabled, or not delegable here: cpu.max/memory.max then fail loudly
        }
    }

    public List<Path> dirs() {
        return dirs;
    }

    public List<Path> procsFiles() {
        return dirs.stream().map(d -> d.resolve("cgroup.procs")).toList();
    }

    /** Pids still in the cgroup (empty once the hypervisor has gone). */
    public List<Long> pids() {
        List<Long> out = new ArrayList<>();
        for (Path p : procsFiles()) {
            try {
                for (String l : Files.readAllLines(p)) {
                    if (!l.isBlank()) {
                        out.add(Long.parseLong(l.trim()));
                    }
                }
            } catch (IOException ignored) {
                // removed
            }
        }
        return out;
    }

    /** rmdir every directory (the kernel refuses while a process is left; retried briefly). */
    public boolean remove() {
        boolean all = true;
        for (Path d : dirs) {
            boolean gone = false;
            for (int i = 0; i < 50 && !gone; i++) {
                try {
                    Files.deleteIfExists(d);
                    gone = true;
                } catch (IOException e) {
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                }
            }
            all &= gone;
        }
        return all;
    }
}
