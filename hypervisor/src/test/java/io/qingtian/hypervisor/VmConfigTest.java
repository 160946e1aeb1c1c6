package io.qingtian.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.UserError;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VmConfigTest {
    @TempDir
    Path dir;

    @Test
    void machineLimitsAreUserErrors() {
        assertThatThrownBy(() -> new VmConfig.Machine(0, 256L << 20)).isInstanceOf(UserError.class).hasMessageContaining("vCPUs");
        assertThatThrownBy(() -> new VmConfig.Machine(255, 256L << 20)).isInstanceOf(UserError.class).hasMessageContaining("too many vCPUs");
        assertThatThrownBy(() -> new VmConfig.Machine(1, 8L << 20)).isInstanceOf(UserError.class).hasMessageContaining("memory too small");
        assertThat(new VmConfig.Machine(254, 1L << 30).vcpus()).isEqualTo(254);
    }

    @Test
    void bootSourceChecksFilesAndCmdline() throws Exception {
        Path k = Files.write(dir.resolve("k"), new byte[] {1});
        assertThatThrownBy(() -> new VmConfig.BootSource(dir.resolve("nope"), null, "x"))
                .isInstanceOf(UserError.class).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> new VmConfig.BootSource(dir, null, "x"))
                .isInstanceOf(UserError.class).hasMessageContaining("not a regular file");
        assertThatThrownBy(() -> new VmConfig.BootSource(k, null, "a\nb"))
                .isInstanceOf(UserError.class).hasMessageContaining("printable ASCII");
        assertThat(new VmConfig.BootSource(k, null, null).cmdline()).isEqualTo(VmConfig.DEFAULT_CMDLINE);
    }

    @Test
    void sizesParseWithUnits() {
        assertThat(VmConfig.parseSize("256M")).isEqualTo(256L << 20);
        assertThat(VmConfig.parseSize("1G")).isEqualTo(1L << 30);
        assertThat(VmConfig.parseSize("2GiB")).isEqualTo(2L << 30);
        assertThat(VmConfig.parseSize("512")).isEqualTo(512L << 20);
        assertThat(VmConfig.parseSize("65536k")).isEqualTo(64L << 20);
        assertThatThrownBy(() -> VmConfig.parseSize("lots")).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> VmConfig.parseSize("-1G")).isInstanceOf(UserError.class);
    }
}
