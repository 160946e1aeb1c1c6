package io.qingtian.e2e.trust;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A copy of the packaged qt, signed as a release, checks itself from its own JVM; a modified or
 * an added jar makes the check fail with one line naming the jar.
 */
class CardSoftwareIntegrityTest {

    static TrustCliTest.Run qtFrom(Path install, Path cwd, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", install.resolve("qingtian-cli.jar") + ":" + install.resolve("lib") + "/*", "io.qingtian.cli.Qt"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("qt timed out");
        }
        return new TrustCliTest.Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void tamperedOrAddedJarIsRefusedNamingIt(@TempDir Path dir) throws Exception {
        Path dist = Path.of(System.getProperty("user.dir")).resolveSibling("cli").resolve("target/qt");
        Path install = dir.resolve("qt");
        try (Stream<Path> s = Files.walk(dist)) {
            for (Path p : s.toList()) {
                Path t = install.resolve(dist.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else if (p.toString().endsWith(".jar")) {
                    Files.copy(p, t, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        assertThat(qtFrom(install, dir, "image", "keygen", "--out", "release").exit()).isZero();
        TrustCliTest.Run sign = qtFrom(install, dir, "image", "sign-release", "--key", "release.key", "--version", "3",
                "--dir", install.toString());
        assertThat(sign.exit()).as(sign.err()).isZero();

        TrustCliTest.Run ok = qtFrom(install, dir, "image", "verify-release", "--key", "release.pub");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(ok.out()).startsWith("OK release 3");

        // A jar the command does not load (its classes are never read, so the JVM still starts).
        Path victim;
        try (Stream<Path> s = Files.list(install.resolve("lib"))) {
            victim = s.filter(p -> p.getFileName().toString().startsWith("bcprov")).findFirst().orElseThrow();
        }
        byte[] b = Files.readAllBytes(victim);
        b[b.length / 2] ^= 0x01;
        Files.write(victim, b);
        TrustCliTest.Run tampered = qtFrom(install, dir, "image", "verify-release", "--key", "release.pub");
        TrustCliTest.assertOneLineRefusal(tampered, victim.getFileName().toString(), "was modified");
        b[b.length / 2] ^= 0x01;
        Files.write(victim, b);

        Files.write(install.resolve("lib/zz-extra.jar"), new byte[] {'P', 'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        TrustCliTest.Run added = qtFrom(install, dir, "image", "verify-release", "--key", "release.pub");
        TrustCliTest.assertOneLineRefusal(added, "zz-extra.jar", "is not part of release 3");
    }
}
