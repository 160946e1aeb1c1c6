package io.qingtian.trust;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the installed openssl as an independent peer (an oracle for our formats). */
public final class Openssl {
    public record Result(int exitCode, String output) {}

    private Openssl() {}

    public static Result run(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("openssl timed out: " + cmd);
        }
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    /** Runs openssl and fails unless it exits 0. */
    public static String ok(Path dir, String... args) throws IOException, InterruptedException {
        Result r = run(dir, args);
        if (r.exitCode() != 0) {
            throw new AssertionError("openssl " + String.join(" ", args) + " failed: " + r.output());
        }
        return r.output();
    }
}
