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

    /** Runs {@code cmd} in {@code dir}; returns its output whatever the exit code. */
    static Output run(Path dir, long timeoutSeconds, List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        Path out = Files.createTempFile("qt-lab-tool", ".out");
        Path err = Files.createTempFile("qt-lab-tool", ".err");
        try {
            pb.redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            Process p = pb.start();
            boolean done;
            try {
                done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while running " + cmd.getFirst(), e);
            }
            if (!done) {
                p.destroyForcibly();
                throw new UserError("lab: '" + String.join(" ", cmd) + "' did not finish within " + timeoutSeconds + " s");
            }
            return new Output(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
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
