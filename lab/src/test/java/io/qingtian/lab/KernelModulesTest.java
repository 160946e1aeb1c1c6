package io.qingtian.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.UserError;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelModulesTest {
    @TempDir
    Path tmp;

    @Test
    void dependenciesComeFirstAndEachModuleOnce() {
        Map<String, List<String>> deps = Map.of(
                "kvm_amd", List.of("kvm", "ccp"),
                "kvm", List.of("irqbypass"),
                "ccp", List.of(),
                "irqbypass", List.of(),
                "virtio_blk", List.of("virtio", "virtio_ring"),
                "virtio", List.of("virtio_ring"),
                "virtio_ring", List.of());
        List<String> order = KernelModules.order(List.of("kvm-amd", "virtio_blk", "kvm"), deps::get);
        assertThat(order).containsExactly("irqbypass", "kvm", "ccp", "kvm_amd", "virtio_ring", "virtio", "virtio_blk");
    }

    @Test
    void aDependencyCycleIsAnErrorNamingTheCycle() {
        Map<String, List<String>> deps = Map.of("a", List.of("b"), "b", List.of("a"));
        assertThatThrownBy(() -> KernelModules.order(List.of("a"), deps::get))
                .isInstanceOf(UserError.class).hasMessageContaining("cycle: a -> b -> a");
    }

    @Test
    void readsDependsFromTheModinfoSection() {
        assertThat(KernelModules.modinfoDepends(module("license=GPL", "depends=kvm,ccp", "intree=Y")))
                .containsExactly("kvm", "ccp");
        assertThat(KernelModules.modinfoDepends(module("depends=", "license=GPL"))).isEmpty();
        assertThatThrownBy(() -> KernelModules.modinfoDepends("not an elf at all, no no no no no no no no no no no no no".getBytes()))
                .hasMessageContaining("not a little-endian ELF64");
    }

    @Test
    void loadOrderFromAModuleTreeAndAMissingDependencyIsNamed() throws Exception {
        Path kvmDir = Files.createDirectories(tmp.resolve("kernel/arch/x86/kvm"));
        Path lib = Files.createDirectories(tmp.resolve("kernel/virt/lib"));
        Files.write(kvmDir.resolve("kvm-amd.ko"), module("depends=kvm"));
        Files.write(kvmDir.resolve("kvm.ko"), module("depends=irqbypass"));
        Files.write(lib.resolve("irqbypass.ko"), module("depends="));
        Files.write(kvmDir.resolve("kvm-intel.ko"), module("depends=kvm,vmx_helper"));
        KernelModules km = KernelModules.index(tmp);
        assertThat(km.loadOrder(List.of("kvm_amd")))
                .containsExactly(lib.resolve("irqbypass.ko"), kvmDir.resolve("kvm.ko"), kvmDir.resolve("kvm-amd.ko"));
        assertThatThrownBy(() -> km.loadOrder(List.of("kvm-intel")))
                .isInstanceOf(UserError.class).hasMessageContaining("no module 'vmx_helper' (needed by kvm_intel)");
        assertThatThrownBy(() -> km.loadOrder(List.of("nbd")))
                .isInstanceOf(UserError.class).hasMessageContaining("no module 'nbd'");
    }

    /** A minimal ELF64 relocatable file with a .modinfo section holding {@code info}. */
    static byte[] module(String... info) {
        byte[] shstr = "\0.modinfo\0.shstrtab\0".getBytes(StandardCharsets.US_ASCII);
        byte[] modinfo = (String.join("\0", info) + "\0").getBytes(StandardCharsets.US_ASCII);
        int shstrOff = 64;
        int modinfoOff = shstrOff + shstr.length;
        int shoff = (modinfoOff + modinfo.length + 7) & ~7;
        ByteBuffer b = ByteBuffer.allocate(shoff + 3 * 64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(0x10, (short) 1);   // ET_REL
        b.putShort(0x12, (short) 62);  // EM_X86_64
        b.putLong(0x28, shoff);
        b.putShort(0x34, (short) 64);  // e_ehsize
        b.putShort(0x3A, (short) 64);  // e_shentsize
        b.putShort(0x3C, (short) 3);   // e_shnum
        b.putShort(0x3E, (short) 2);   // e_shstrndx
        b.put(shstrOff, shstr);
        b.put(modinfoOff, modinfo);
        section(b, shoff + 64, 1, 1, modinfoOff, modinfo.length);  // .modinfo (SHT_PROGBITS)
        section(b, shoff + 128, 10, 3, shstrOff, shstr.length);    // .shstrtab (SHT_STRTAB)
        return b.array();
    }

    private static void section(ByteBuffer b, int at, int name, int type, long offset, long size) {
        b.putInt(at, name);
        b.putInt(at + 4, type);
        b.putLong(at + 0x18, offset);
        b.putLong(at + 0x20, size);
        b.putLong(at + 0x30, 1);
    }
}
