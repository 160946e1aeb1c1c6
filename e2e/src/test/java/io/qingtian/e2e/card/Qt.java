package io.qingtian.e2e.card;

import io.qingtian.lab.Lab;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the packaged {@code qt} (cli/target/qt) as a separate process, as a user would. */
final class Qt {
    record Result(int exit, String out, String err) {}

    private Qt() {}

    static List<String> command(String... args) {
        Path dist = Lab.defaultDist();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", dist.resolve("qingtian-cli.jar") + ":" + dist.resolve("lib") + "/*", "io.qingtian.cli.Qt"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    static Result run(String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("qt-out", ".txt");
        Path err = Files.createTempFile("qt-err", ".txt");
        try {
            Process p = new ProcessBuilder(command(args)).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("qt " + String.join(" ", args) + " timed out");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Runs and expects success; returns stdout. */
    static String ok(String... args) throws IOException, InterruptedException {
        Result r = run(args);
        if (r.exit() != 0) {
            throw new AssertionError("qt " + String.join(" ", args) + " exited " + r.exit() + ": " + r.err() + r.out());
        }
        return r.out();
    }
}
