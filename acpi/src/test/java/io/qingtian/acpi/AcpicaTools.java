package io.qingtian.acpi;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real ACPICA tools (package acpica-tools: iasl, acpiexec) as test oracles. */
final class AcpicaTools {
    private static final long TIMEOUT_SECONDS = 60;

    record Result(int exitCode, String output) {}

    private AcpicaTools() {}

    static Result run(Path dir, String... command) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(command));
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError(command[0] + " is required for the ACPI tests: install acpica-tools", e);
        }
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish in " + TIMEOUT_SECONDS + " s");
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Disassembles one binary table with {@code iasl -d}; returns the .dsl text. */
    static String disassemble(Path dir, String name, byte[] table) throws IOException, InterruptedException {
        Path dat = dir.resolve(name + ".dat");
        Files.write(dat, table);
        Result r = run(dir, "iasl", "-d", dat.getFileName().toString());
        assertThat(r.exitCode()).as("iasl -d %s exit code; output:%n%s", name, r.output()).isZero();
        assertNoDiagnostics("iasl -d " + name, r.output());
        String dsl = Files.readString(dir.resolve(name + ".dsl"));
        assertThat(dsl).as("disassembly of %s", name)
                .doesNotContainIgnoringCase("error")
                .doesNotContainIgnoringCase("warning")
                .doesNotContain("Unknown")
                .doesNotContain("Invalid")
                .doesNotContain("terminates in the middle");
        return dsl;
    }

    static void assertNoDiagnostics(String what, String output) {
        for (String line : output.split("\n")) {
            assertThat(line).as("%s printed a diagnostic; full output:%n%s", what, output)
                    .doesNotContain("Error")
                    .doesNotContain("Warning")
                    .doesNotContain("Remark");
        }
    }
}
