package io.qingtian.sys;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SeccompTest {
    /** What a JVM reports for a child killed by signal N: 128 + N. */
    private static final int KILLED_BY_SIGSYS = 128 + 31;

    private static Result probe(String... args) throws Exception {
        var cmd = new java.util.ArrayList<>(java.util.List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xshare:off", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), SeccompProbe.class.getName()));
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    record Result(int code, String out) {}

    @Test
    void filterKeepsAllowedCallsWorking() throws Exception {
        Result r = probe();
        assertThat(r.out()).contains("installed mode=2");
        assertThat(r.code()).isZero();
    }

    @Test
    void mountKillsTheProcessWithSigsys() throws Exception {
        Result r = probe("mount");
        assertThat(r.out()).contains("installed mode=2").doesNotContain("survived");
        assertThat(r.code()).isEqualTo(KILLED_BY_SIGSYS);
    }

    @Test
    void ptraceKillsTheProcessWithSigsys() throws Exception {
        Result r = probe("ptrace");
        assertThat(r.out()).doesNotContain("survived");
        assertThat(r.code()).isEqualTo(KILLED_BY_SIGSYS);
    }

    @Test
    void programChecksArchitectureFirstAndEndsWithAllow() {
        Seccomp.Insn[] p = Seccomp.program();
        assertThat(p[0].k()).isEqualTo(Seccomp.OFF_ARCH);
        assertThat(p[1].k()).isEqualTo(Seccomp.AUDIT_ARCH_X86_64);
        assertThat(p[2].k()).isEqualTo(Seccomp.SECCOMP_RET_KILL_PROCESS);
        assertThat(p[p.length - 1].k()).isEqualTo(Seccomp.SECCOMP_RET_ALLOW);
        assertThat(p.length).isLessThan(4096); // BPF_MAXINSNS
    }
}
