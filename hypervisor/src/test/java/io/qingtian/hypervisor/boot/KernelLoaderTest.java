package io.qingtian.hypervisor.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.x86.X86Layout;
import io.qingtian.sys.UserError;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KernelLoaderTest {
    private static final long RAM = 64L << 20;
    private final Arena arena = Arena.ofShared();
    private final GuestMemory mem = new GuestMemory(List.of(new GuestRegion(0, arena.allocate(RAM, 4096), -1, 0)));
    private final List<E820Entry> e820 = E820Entry.forRam(RAM, 0);

    @TempDir
    Path dir;

    @AfterEach
    void free() {
        arena.close();
    }

    private Path file(String name, ByteBuffer content) throws IOException {
        Path p = dir.resolve(name);
        byte[] bytes = new byte[content.capacity()];
        content.duplicate().clear().get(bytes);
        Files.write(p, bytes);
        return p;
    }

    private Path initramfs(int size) throws IOException {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i ^ 0x5a);
        }
        Path p = dir.resolve("initrd");
        Files.write(p, b);
        return p;
    }

    @Test
    void bzImageLoadsAtItsPreferredAddressAndEntersAtStartup64() throws Exception {
        ByteBuffer image = SyntheticKernels.goodBzImage();
        Path k = file("bzImage", image);
        Path rd = initramfs(100_000);
        LoadedKernel lk = KernelLoader.load(mem, k, rd, "console=ttyS0 quiet", RAM, e820, 0xe0000);

        assertThat(lk.protocol()).isEqualTo(LoadedKernel.Protocol.LINUX_64);
        assertThat(lk.entry()).isEqualTo(SyntheticKernels.PREF_ADDRESS + 0x200);
        assertThat(lk.bootInfo()).isEqualTo(X86Layout.ZERO_PAGE);
        // protected-mode kernel copied byte for byte from file offset (4 + 1) * 512
        assertThat(mem.read(SyntheticKernels.PREF_ADDRESS, 0x3000)).isEqualTo(
                java.util.Arrays.copyOfRange(image.array(), 5 * 512, 5 * 512 + 0x3000));
        // initramfs: page aligned, at the top of RAM, above the kernel's init_size
        assertThat(lk.initramfsAddr() % 4096).isZero();
        assertThat(lk.initramfsAddr() + lk.initramfsSize()).isLessThanOrEqualTo(RAM).isGreaterThan(RAM - 4096 - 1);
        assertThat(lk.initramfsAddr()).isGreaterThanOrEqualTo(SyntheticKernels.PREF_ADDRESS + SyntheticKernels.INIT_SIZE);
        assertThat(mem.read(lk.initramfsAddr(), 100_000)).isEqualTo(Files.readAllBytes(rd));
        assertThat(new String(mem.read(X86Layout.CMDLINE, 20), java.nio.charset.StandardCharsets.US_ASCII))
                .isEqualTo("console=ttyS0 quiet\0");

        ByteBuffer zp = ByteBuffer.wrap(mem.read(X86Layout.ZERO_PAGE, 4096)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(zp.getInt(0x202)).as("header copied").isEqualTo(0x53726448);
        assertThat(zp.get(0x210) & 0xff).as("type_of_loader").isEqualTo(0xff);
        assertThat(zp.getInt(0x228)).as("cmd_line_ptr").isEqualTo((int) X86Layout.CMDLINE);
        assertThat(zp.getInt(0x218)).as("ramdisk_image").isEqualTo((int) lk.initramfsAddr());
        assertThat(zp.getInt(0x21c)).as("ramdisk_size").isEqualTo(100_000);
        assertThat(zp.getLong(0x070)).as("acpi_rsdp_addr").isEqualTo(0xe0000);
        assertThat(zp.get(0x1e8)).as("e820_entries").isEqualTo((byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            int o = 0x2d0 + 20 * i;
            assertThat(new E820Entry(zp.getLong(o), zp.getLong(o + 8), zp.getInt(o + 16))).isEqualTo(e820.get(i));
        }
    }

    @Test
    void checkValidatesWithoutTouchingGuestMemory() throws Exception {
        Path k = file("bz", SyntheticKernels.goodBzImage());
        Path rd = initramfs(1 << 20);
        LoadedKernel planned = KernelLoader.check(k, rd, "console=ttyS0", RAM);
        assertThat(planned.entry()).isEqualTo(SyntheticKernels.PREF_ADDRESS + 0x200);
        assertThat(planned.initramfsAddr() + planned.initramfsSize()).isLessThanOrEqualTo(RAM);
        assertThat(mem.read(SyntheticKernels.PREF_ADDRESS, 16)).containsOnly(0);
        assertThatThrownBy(() -> KernelLoader.check(k, rd, "", 24L << 20))
                .isInstanceOf(UserError.class).hasMessageContaining("memory too small");
        assertThatThrownBy(() -> KernelLoader.check(k, null, "y".repeat(4000), RAM))
                .isInstanceOf(UserError.class).hasMessageContaining("too long");
    }

    @Test
    void oldBootProtocolIsRejectedWithTheVersion() throws Exception {
        Path k = file("old", SyntheticKernels.bzImage(0x020b, 0x01, 0x03, 0x1000));
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("2.11").hasMessageContaining("2.12");
    }

    @Test
    void kernelWithout64BitEntryIsRejected() throws Exception {
        Path k = file("k32", SyntheticKernels.bzImage(0x020f, 0x01, 0x00, 0x1000));
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("XLF_KERNEL_64");
    }

    @Test
    void zImageIsRejected() throws Exception {
        Path k = file("z", SyntheticKernels.bzImage(0x020f, 0x00, 0x03, 0x1000));
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("zImage");
    }

    @Test
    void garbageIsNeitherBzImageNorElf() throws Exception {
        Path k = file("junk", ByteBuffer.wrap(new byte[8192]));
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("not a bzImage");
        Path tiny = file("tiny", ByteBuffer.wrap(new byte[10]));
        assertThatThrownBy(() -> KernelLoader.load(mem, tiny, null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("too small");
        assertThatThrownBy(() -> KernelLoader.load(mem, dir.resolve("missing"), null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("does not exist");
    }

    @Test
    void tooLongCommandLineIsRejected() throws Exception {
        Path k = file("bz", SyntheticKernels.goodBzImage());
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "x".repeat(2048), RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("too long").hasMessageContaining("2047");
    }

    @Test
    void memoryTooSmallForKernelOrInitramfsIsRejected() throws Exception {
        Path k = file("bz", SyntheticKernels.goodBzImage());
        long small = 20L << 20; // kernel needs 16 MiB + 8 MiB init_size
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "", small, E820Entry.forRam(small, 0), 0))
                .isInstanceOf(UserError.class).hasMessageContaining("memory too small");
        Path rd = initramfs(41 << 20); // 24 MiB of kernel + 41 MiB > 64 MiB
        assertThatThrownBy(() -> KernelLoader.load(mem, k, rd, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("memory too small");
    }

    @Test
    void pvhElfLoadsSegmentsAndWritesStartInfo() throws Exception {
        byte[] code = {(byte) 0xf4, 1, 2, 3};
        mem.slice(0x200000 + 4, 0x1000).fill((byte) 0x77); // the bss must be zeroed
        Path k = file("vmlinux", SyntheticKernels.elf(0x200000, code, 0x200000, true));
        Path rd = initramfs(5000);
        LoadedKernel lk = KernelLoader.load(mem, k, rd, "console=hvc0", RAM, e820, 0xe0000);

        assertThat(lk.protocol()).isEqualTo(LoadedKernel.Protocol.PVH);
        assertThat(lk.entry()).isEqualTo(0x200000);
        assertThat(lk.bootInfo()).isEqualTo(X86Layout.PVH_INFO);
        assertThat(mem.read(0x200000, 4)).isEqualTo(code);
        assertThat(mem.read(0x200004, 0x1000)).containsOnly(0);

        ByteBuffer si = ByteBuffer.wrap(mem.read(X86Layout.PVH_INFO, PvhStartInfo.SIZE)).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(si.getInt(0)).as("magic").isEqualTo(PvhStartInfo.MAGIC);
        assertThat(si.getInt(4)).as("version").isEqualTo(1);
        assertThat(si.getInt(12)).as("nr_modules").isEqualTo(1);
        assertThat(si.getLong(16)).as("modlist_paddr").isEqualTo(X86Layout.PVH_MODLIST);
        assertThat(si.getLong(24)).as("cmdline_paddr").isEqualTo(X86Layout.CMDLINE);
        assertThat(si.getLong(32)).as("rsdp_paddr").isEqualTo(0xe0000);
        assertThat(si.getLong(40)).as("memmap_paddr").isEqualTo(X86Layout.PVH_MEMMAP);
        assertThat(si.getInt(48)).as("memmap_entries").isEqualTo(e820.size());
        assertThat(mem.readU64(X86Layout.PVH_MODLIST)).isEqualTo(lk.initramfsAddr());
        assertThat(mem.readU64(X86Layout.PVH_MODLIST + 8)).isEqualTo(5000);
        assertThat(mem.readU64(X86Layout.PVH_MEMMAP + 24)).isEqualTo(e820.get(1).addr());
        assertThat(mem.readU32(X86Layout.PVH_MEMMAP + 24 + 16)).isEqualTo(e820.get(1).type());
    }

    @Test
    void elfWithoutPvhNoteIsRejected() throws Exception {
        Path k = file("vmlinux", SyntheticKernels.elf(0x200000, new byte[16], 0, false));
        assertThatThrownBy(() -> KernelLoader.load(mem, k, null, "", RAM, e820, 0))
                .isInstanceOf(UserError.class).hasMessageContaining("PVH");
    }

    @Test
    void e820LeavesTheLegacyAreaAndTheHoleOut() {
        assertThat(E820Entry.forRam(256L << 20, 0)).containsExactly(
                new E820Entry(0, 0x9fc00, E820Entry.RAM),
                new E820Entry(0xe0000, 0x20000, E820Entry.RESERVED),
                new E820Entry(0x100000, (256L << 20) - 0x100000, E820Entry.RAM));
        assertThat(E820Entry.forRam(3L << 30, 1L << 30)).last()
                .isEqualTo(new E820Entry(1L << 32, 1L << 30, E820Entry.RAM));
    }
}
