package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the host tools the lab builds with (apt-get, dpkg-deb, mke2fs, jlink, ...) with a
 * timeout, so a stuck tool (e.g. apt-get waiting on an unreachable mirror) becomes a clear
 * error instead of a hang.
 */
final class HostTools {
    private HostTools() {}

    record Output(int exitCode, String stdout, String stderr) {}

    /** Finds {@code tool} on PATH (or /usr/sbin, /sbin) or throws naming the Debian package. */
    static Path require(String tool, String debianPackage) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin";
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, tool);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        throw new UserError("lab: '" + tool + "' not found; install the Debian package " + debianPackage
                + " (apt-get install " + debianPackage + ")");
    }

    /** Tools running now; killed (with their children) if the JVM is stopped (Ctrl-C, SIGTERM). */
    private static final java.util.Set<Process> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(HostTools::kill)));
    }

    static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /** Runs {@code cmd} in {@code dir}; returns its output whatever the exit code. */
    static Output run(Path dir, long timeoutSeconds, List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        Process p = pb.start();
        RUNNING.add(p);
        try {
            java.util.concurrent.Future<String> err;
            try (var readers = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                var out = readers.submit(() -> new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                err = readers.submit(() -> new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
                boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
                if (!done) {
                    kill(p);
                    throw new UserError("lab: '" + String.join(" ", cmd) + "' did not finish within " + timeoutSeconds + " s");
                }
                return new Output(p.exitValue(), out.get(), err.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + cmd.getFirst(), e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("reading the output of " + cmd.getFirst(), e.getCause());
        } finally {
            if (p.isAlive()) {
                kill(p);
            }
            RUNNING.remove(p);
        }
    }

    /** Runs {@code cmd} and returns its stdout, or throws {@code what} failed with its stderr. */
    static String check(Path dir, long timeoutSeconds, String what, List<String> cmd) throws IOException {
        Output o = run(dir, timeoutSeconds, cmd);
        if (o.exitCode() != 0) {
            String detail = (o.stderr().isBlank() ? o.stdout() : o.stderr()).strip();
            throw new UserError("lab: " + what + " failed (" + String.join(" ", cmd) + ", exit " + o.exitCode() + "): "
                    + lastLines(detail, 3));
        }
        return o.stdout();
    }

    static String lastLines(String text, int n) {
        List<String> lines = text.lines().toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }
}
