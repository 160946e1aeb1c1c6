package io.qingtian.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.UserError;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Missing inputs give one clear message naming what is missing, before anything boots. */
class BadInputsTest {
    @TempDir
    Path tmp;

    @Test
    void aKernelPackageWithoutKvmModulesIsNamed() throws Exception {
        Path root = tmp.resolve("root");
        Files.createDirectories(root.resolve("boot"));
        Files.write(root.resolve("boot/vmlinuz-6.1.0-99-cloud-amd64"), new byte[16]);
        Path mods = Files.createDirectories(root.resolve("lib/modules/6.1.0-99-cloud-amd64/kernel/drivers/block"));
        Files.write(mods.resolve("virtio_blk.ko"), KernelModulesTest.module("depends="));
        GuestKernel k = GuestKernel.fromRoot(root, "linux-image-6.1.0-99-cloud-amd64", "6.1.999-1");
        assertThat(k.version()).isEqualTo("6.1.0-99-cloud-amd64");
        assertThat(k.modulesDir().resolve("modules.dep")).exists(); // made by depmod -b
        assertThatThrownBy(() -> L1Image.prepare(new LabCache(tmp.resolve("cache")), k, tmp, tmp))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("linux-image-6.1.0-99-cloud-amd64 6.1.999-1 has no kvm modules (missing irqbypass.ko");
    }

    @Test
    void aKernelPackageWithoutAnImageIsNamed() throws Exception {
        Files.createDirectories(tmp.resolve("root/boot"));
        assertThatThrownBy(() -> GuestKernel.fromRoot(tmp.resolve("root"), "linux-image-x", "1"))
                .isInstanceOf(UserError.class).hasMessageContaining("linux-image-x has no boot/vmlinuz-*");
    }

    @Test
    void aPackageAptDoesNotKnowIsNamedWithTheFix() {
        DebianPackages apt = new DebianPackages(new LabCache(tmp));
        assertThatThrownBy(() -> apt.resolveDependency("qingtian-no-such-package", Pattern.compile("linux-image-.*")))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("cannot resolve the Debian package 'qingtian-no-such-package'")
                .hasMessageContaining("apt-get update");
        assertThatThrownBy(() -> apt.candidateVersion("qingtian-no-such-package"))
                .isInstanceOf(UserError.class).hasMessageContaining("'qingtian-no-such-package' is not available from apt");
    }

    @Test
    void aMissingHostToolNamesItsPackage() {
        assertThatThrownBy(() -> HostTools.require("qingtian-no-such-tool", "qingtian-pkg"))
                .isInstanceOf(UserError.class).hasMessageContaining("apt-get install qingtian-pkg");
    }
}
