package io.qingtian.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.UserError;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabRequestTest {
    @TempDir
    Path tmp;

    @Test
    void fileMappingSplitsAtTheLastColon() {
        LabRequest.FileMapping m = LabRequest.FileMapping.parse("/host/a:b/file.txt:/tmp/in.txt");
        assertThat(m.host()).isEqualTo(Path.of("/host/a:b/file.txt"));
        assertThat(m.guestPath()).isEqualTo("/tmp/in.txt");
    }

    @Test
    void badFileMappingsAreNamed() {
        assertThatThrownBy(() -> LabRequest.FileMapping.parse("nocolon")).isInstanceOf(UserError.class).hasMessageContaining("HOST_PATH:L1_PATH");
        assertThatThrownBy(() -> LabRequest.FileMapping.parse("a:")).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> LabRequest.FileMapping.parse("a:relative")).isInstanceOf(UserError.class).hasMessageContaining("absolute");
    }

    @Test
    void diskSpecsSayWhetherL1MayWrite() {
        assertThat(LabRequest.Disk.parse("/img/a.raw")).isEqualTo(new LabRequest.Disk(Path.of("/img/a.raw"), true));
        assertThat(LabRequest.Disk.parse("/img/a.raw:rw")).isEqualTo(new LabRequest.Disk(Path.of("/img/a.raw"), true));
        assertThat(LabRequest.Disk.parse("/img/a.raw:ro")).isEqualTo(new LabRequest.Disk(Path.of("/img/a.raw"), false));
    }

    @Test
    void badRequestsAreUserErrors() {
        assertThatThrownBy(LabRequest::of).isInstanceOf(UserError.class).hasMessageContaining("no command");
        assertThatThrownBy(() -> LabRequest.of("true").withCpus(0)).isInstanceOf(UserError.class).hasMessageContaining("--cpus");
        assertThatThrownBy(() -> LabRequest.of("true").withMemoryMiB(64)).isInstanceOf(UserError.class).hasMessageContaining("--memory");
        assertThatThrownBy(() -> LabRequest.of("true").withTimeout(Duration.ZERO)).isInstanceOf(UserError.class).hasMessageContaining("--timeout");
    }

    @Test
    void commandScriptPassesEveryArgumentUnchangedThroughTheShell() throws Exception {
        List<String> args = List.of("printf", "[%s]\\n", "a b", "it's", "$HOME", "`x`", "\"q\"", "", "*");
        Path script = tmp.resolve("c.sh");
        Files.writeString(script, Lab.commandScript(args));
        Process p = new ProcessBuilder("sh", script.toString()).directory(tmp.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo("[a b]\n[it's]\n[$HOME]\n[`x`]\n[\"q\"]\n[]\n[*]\n");
    }
}
