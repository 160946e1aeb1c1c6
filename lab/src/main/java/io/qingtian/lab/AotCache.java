package io.qingtian.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

/**
 * An AOT cache (JEP 483, {@code -XX:AOTCacheOutput}) for {@code qt} inside L1: it roughly halves
 * the JVM start-up of a small FFM program there (ENVIRONMENT.md: ~2.0 s to ~1.3 s), and every
 * lab test starts {@code qt} at least once.
 *
 * <p>A cache is only accepted by the same JDK with the same class path (paths, sizes and
 * modification times of the jars). So the training run happens on the host with L1's view of
 * the files: in a private mount namespace ({@code unshare -m}, or {@code unshare -rm} without
 * root) a tmpfs on {@code /opt} gets the lab's JDK directory bind-mounted at {@code /opt/lab}
 * and the jars, with modification time 0 as in L1's cpio, at {@code /opt/qt}; nothing is
 * visible outside the namespace. The training workload is a short {@code qt hypervisor run} of the
 * stock kernel when the host has a usable /dev/kvm ({@link #workload}), else {@code qt --help}. If any of this is not possible the lab simply
 * runs without the cache (an empty entry remembers that), and L1's launcher silences the JVM's
 * AOT/CDS logging so a rejected cache can never add lines to a command's stderr.
 */
final class AotCache {
    private AotCache() {}

    /** The cache file (possibly empty: no cache) for these jars on {@code jdk}. */
    static Path build(LabCache cache, JavaRuntime.Image jdk, Path dist, List<Path> jars, List<String> classPath)
            throws IOException {
        List<Object> key = new ArrayList<>(jars);
        key.add(jdk.key());
        key.add(L1Init.JAVA_FLAGS);
        key.add(TRAINING);
        return cache.file("l1", "aot-" + LabCache.hash(key) + ".aot", out -> train(out, cache, jdk, dist, jars, classPath));
    }

    /** Names the training workload in the cache key, so a changed workload retrains. */
    private static final String TRAINING = "hypervisor-run-stock-kernel-2s";

    /**
     * The training command after {@code io.qingtian.cli.Qt}. With a usable /dev/kvm it is a real
     * {@code qt hypervisor run} of the stock kernel for 2 s: that loads, links and profiles the
     * whole VM build (boot loader, ACPI tables, CPUID/MSR setup, devices, the vCPU loop) that the
     * lab's L2 boots pay for in L1, where the JVM runs 10-30x slower under TCG. On a PVM host
     * the stock kernel stops early, but the build is the same; the run ends by the timeout.
     * Measured with bench/hypervisor/boot-lab.sh (see the commit that added it).
     */
    private static List<String> workload(LabCache cache) {
        if (!Files.isReadable(Path.of("/dev/kvm")) || !Files.isWritable(Path.of("/dev/kvm"))) {
            return List.of("--help");
        }
        try {
            Path kernel = GuestKernel.stock(cache).bzImage();
            return List.of("hypervisor", "run", "--kernel", kernel.toString(), "--cpus", "2", "--memory", "256M",
                    "--timeout", "2", "--cmdline", "console=ttyS0 quiet");
        } catch (RuntimeException e) {
            return List.of("lab", "kvm-smoke", "--exits", "100");
        }
    }

    private static void train(Path out, LabCache cache, JavaRuntime.Image jdk, Path dist, List<Path> jars,
            List<String> classPath) throws IOException {
        Files.write(out, new byte[0]);
        if (!Files.isDirectory(Path.of("/opt"))) {
            return;
        }
        Path unshare;
        try {
            unshare = HostTools.require("unshare", "util-linux");
        } catch (RuntimeException e) {
            return;
        }
        Path stage = Files.createTempDirectory(out.getParent(), "aot-stage.tmp");
        try {
            for (Path jar : jars) {
                Path t = stage.resolve("qt").resolve(dist.relativize(jar).toString());
                Files.createDirectories(t.getParent());
                Files.copy(jar, t);
                Files.setLastModifiedTime(t, FileTime.fromMillis(0));
            }
            Path result = stage.resolve("qt.aot");
            boolean root = "root".equals(System.getProperty("user.name"));
            List<String> cmd = new ArrayList<>(List.of(unshare.toString(), root ? "-m" : "-rm", "sh", "-c",
                    "mount -t tmpfs qt-lab /opt && mkdir /opt/qt /opt/lab && mount --bind \"$1\" /opt/qt"
                            + " && mount --bind \"$2\" /opt/lab && shift 2 && exec \"$@\"",
                    "sh", stage.resolve("qt").toString(), jdk.dir().toString(), "/opt/lab/jdk/bin/java"));
            cmd.addAll(L1Init.JAVA_FLAGS);
            cmd.addAll(List.of("-XX:AOTCacheOutput=" + result, "-cp", String.join(":", classPath), "io.qingtian.cli.Qt"));
            cmd.addAll(workload(cache));
            System.err.println("lab: training the AOT cache for qt in L1");
            HostTools.run(null, 120, cmd);
            if (Files.isRegularFile(result) && Files.size(result) > 0) {
                Files.copy(result, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (RuntimeException e) {
            // no AOT cache on this host: the lab works without it
        } finally {
            LabCache.deleteTree(stage);
        }
    }
}
