package io.qingtian.card.instance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HypervisorAotCacheTest {
    @TempDir
    Path tmp;

    HypervisorLauncher launcher(String classPath) {
        return new HypervisorLauncher(List.of("/jdk/bin/java", "-XX:+UseSerialGC", "-cp", classPath, "io.qingtian.cli.Qt"));
    }

    @Test
    void theCacheIsKeyedByTheJarsItWasMadeFrom() throws Exception {
        Files.createDirectories(tmp.resolve("lib"));
        Path jar = Files.write(tmp.resolve("lib/a.jar"), new byte[] {1, 2, 3});
        HypervisorLauncher l = launcher(tmp.resolve("cli.jar") + ":" + tmp.resolve("lib") + "/*");
        Path first = HypervisorAotCache.location(l);
        assertThat(first.getFileName().toString()).endsWith(".aot");
        assertThat(HypervisorAotCache.location(l)).isEqualTo(first);
        Files.setLastModifiedTime(jar, FileTime.fromMillis(Files.getLastModifiedTime(jar).toMillis() + 5000));
        assertThat(HypervisorAotCache.location(l)).as("a rebuilt jar needs a new cache").isNotEqualTo(first);
        assertThat(HypervisorAotCache.location(new HypervisorLauncher(List.of("qt")))).as("not a java command line").isNull();
        assertThat(HypervisorAotCache.location(launcher(tmp + "/target/classes:" + jar))).as("a class directory").isNull();
    }

    @Test
    void aLaunchUsesTheCacheOnlyWhenItHasContent() throws Exception {
        HypervisorLauncher l = launcher("/x.jar");
        Path cache = tmp.resolve("k.aot");
        assertThat(HypervisorAotCache.apply(l, cache)).isEqualTo(l);
        Files.write(cache, new byte[0]); // the "cannot be made here" marker
        assertThat(HypervisorAotCache.apply(l, cache)).isEqualTo(l);
        Files.write(cache, new byte[] {1});
        assertThat(HypervisorAotCache.apply(l, cache).prefix()).containsExactly("/jdk/bin/java", "-XX:AOTCache=" + cache,
                "-Xlog:aot=off", "-Xlog:cds=off", "-XX:+UseSerialGC", "-cp", "/x.jar", "io.qingtian.cli.Qt");
    }
}
