package io.qingtian.card.instance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How the card starts {@code qt hypervisor run}: the project's own launcher, i.e. the same java
 * and class path as the card (or an explicit prefix, e.g. a packaged {@code qt} for tests).
 */
public record HypervisorLauncher(List<String> prefix) {
    public HypervisorLauncher {
        prefix = List.copyOf(prefix);
    }

    /** The card's own JVM and class path, with the hypervisor's start-up flags ({@code ./qt}). */
    public static HypervisorLauncher sameJvm() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new HypervisorLauncher(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-cp", System.getProperty("java.class.path"), "io.qingtian.cli.Qt"));
    }

    /** A packaged distribution directory (qingtian-cli.jar + lib/). */
    public static HypervisorLauncher dist(Path dir) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        if (!Files.isRegularFile(dir.resolve("qingtian-cli.jar"))) {
            throw new IllegalArgumentException("no qingtian-cli.jar in " + dir);
        }
        return new HypervisorLauncher(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-cp", dir.resolve("qingtian-cli.jar") + ":" + dir.resolve("lib") + "/*",
                "io.qingtian.cli.Qt"));
    }

    /** The same launcher with JVM options after the java executable (e.g. an AOT cache). */
    public HypervisorLauncher withJvmOptions(List<String> options) {
        List<String> p = new ArrayList<>(prefix);
        p.addAll(Math.min(1, p.size()), options);
        return new HypervisorLauncher(p);
    }

    /**
     * {@code qt hypervisor run --api-sock SOCK --id ID --seccomp}: the hypervisor serves
     * Firecracker's API and waits; the card then configures it over the socket
     * ({@link HypervisorSetup}). The seccomp filter is installed before the API serves its first
     * request, so it covers everything the process does for the guest.
     */
    public List<String> command(Path apiSocket, String id) {
        List<String> c = new ArrayList<>(prefix);
        c.addAll(List.of("hypervisor", "run", "--api-sock", apiSocket.toString(), "--id", id, "--seccomp"));
        return c;
    }
}
