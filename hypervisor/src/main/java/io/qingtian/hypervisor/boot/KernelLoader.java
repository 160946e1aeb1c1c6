package io.qingtian.hypervisor.boot;

import io.qingtian.hypervisor.x86.X86Layout;
import io.qingtian.sys.UserError;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Loads a Linux kernel (bzImage or PVH ELF vmlinux), its command line and initramfs into
 * guest memory and writes the boot information the entry point expects (linux-loader's
 * job in rust-vmm). Only low RAM (below 3 GiB) is used for boot data.
 */
public final class KernelLoader {
    /** COMMAND_LINE_SIZE on x86: the limit for PVH, which has no header to tell us. */
    public static final int PVH_CMDLINE_MAX = 2048;
    static final long PAGE = 4096;
    /** The 64-bit entry is 0x200 bytes into the protected-mode kernel (boot.rst, "64-bit Boot Protocol"). */
    static final long STARTUP_64_OFFSET = 0x200;

    private KernelLoader() {}

    /**
     * @param lowRamEnd  end of RAM below the 32-bit hole
     * @param e820       the memory map the guest receives
     * @param rsdpAddr   ACPI RSDP address, or 0
     */
    public static LoadedKernel load(GuestMemory mem, Path kernel, Path initramfs, String cmdline, long lowRamEnd,
                                    List<E820Entry> e820, long rsdpAddr) {
        return loadOrCheck(java.util.Objects.requireNonNull(mem), kernel, initramfs, cmdline, lowRamEnd, e820, rsdpAddr);
    }

    /**
     * Every check {@link #load} makes (image format and boot protocol, command line length, fit
     * of kernel and initramfs in {@code lowRamEnd} bytes), without guest memory: lets the CLI
     * reject bad input before it creates a VM. Returns where the kernel would go.
     */
    public static LoadedKernel check(Path kernel, Path initramfs, String cmdline, long lowRamEnd) {
        return loadOrCheck(null, kernel, initramfs, cmdline, lowRamEnd, E820Entry.forRam(lowRamEnd, 0), 0);
    }

    private static LoadedKernel loadOrCheck(GuestMemory mem, Path kernel, Path initramfs, String cmdline, long lowRamEnd,
                                            List<E820Entry> e820, long rsdpAddr) {
        try (KernelFile k = KernelFile.open(kernel, "kernel")) {
            ByteBuffer head = k.read(0, 4096);
            if (ElfKernel.isElf(head)) {
                return loadPvh(mem, k, initramfs, cmdline, lowRamEnd, e820, rsdpAddr);
            }
            return loadBzImage(mem, k, head, initramfs, cmdline, lowRamEnd, e820, rsdpAddr);
        }
    }

    static LoadedKernel loadBzImage(GuestMemory mem, KernelFile k, ByteBuffer head, Path initramfs, String cmdline,
                                    long lowRamEnd, List<E820Entry> e820, long rsdpAddr) {
        String what = "kernel " + k.path();
        SetupHeader hdr = SetupHeader.parse(head, what);
        long offset = hdr.kernelOffset();
        long payload = k.size() - offset;
        if (payload <= 0) {
            throw new UserError(what + " is truncated: no protected-mode kernel after " + hdr.setupSects() + " setup sectors");
        }
        long load = hdr.prefAddress() != 0 ? hdr.prefAddress() : X86Layout.KERNEL_DEFAULT_LOAD;
        if (hdr.relocatable() && hdr.kernelAlignment() > 0 && Long.bitCount(hdr.kernelAlignment()) == 1) {
            load = (load + hdr.kernelAlignment() - 1) & -hdr.kernelAlignment();
        }
        // init_size: the linear memory the kernel needs from its load address while it decompresses.
        long kernelEnd = load + Math.max(payload, hdr.initSize());
        if (kernelEnd > lowRamEnd) {
            throw new UserError(String.format("memory too small: the kernel needs %d MiB from its load address 0x%x, "
                    + "the VM has %d MiB below 3 GiB", (kernelEnd + (1 << 20) - 1) >> 20, load, lowRamEnd >> 20));
        }
        long cmdMax = Math.min(hdr.cmdlineSize(), X86Layout.CMDLINE_MAX - 1);
        byte[] cmd = cmdlineBytes(cmdline, cmdMax);
        try {
            long[] rd = loadInitramfs(mem, initramfs, kernelEnd, Math.min(lowRamEnd, hdr.initrdAddrMax() + 1));
            if (mem != null) {
                k.copyTo(offset, mem.slice(load, payload));
                mem.write(X86Layout.CMDLINE, cmd);
                mem.write(X86Layout.ZERO_PAGE, BootParams.build(hdr, X86Layout.CMDLINE, rd[0], rd[1], e820, rsdpAddr));
            }
            return new LoadedKernel(LoadedKernel.Protocol.LINUX_64, load + STARTUP_64_OFFSET, X86Layout.ZERO_PAGE, rd[0], rd[1]);
        } catch (GuestMemoryException e) {
            throw new UserError("memory too small for " + what + ": " + e.getMessage());
        }
    }

    static LoadedKernel loadPvh(GuestMemory mem, KernelFile k, Path initramfs, String cmdline, long lowRamEnd,
                                List<E820Entry> e820, long rsdpAddr) {
        String what = "kernel " + k.path();
        ElfKernel elf = ElfKernel.parse(k);
        long kernelEnd = 0;
        for (ElfKernel.Segment s : elf.segments()) {
            if (s.paddr() < X86Layout.HIGH_RAM_START || s.paddr() + s.memSize() > lowRamEnd) {
                throw new UserError(String.format("memory too small for %s: segment at 0x%x+0x%x does not fit in %d MiB",
                        what, s.paddr(), s.memSize(), lowRamEnd >> 20));
            }
            kernelEnd = Math.max(kernelEnd, s.paddr() + s.memSize());
        }
        byte[] cmd = cmdlineBytes(cmdline, PVH_CMDLINE_MAX - 1);
        try {
            long[] rd = loadInitramfs(mem, initramfs, (kernelEnd + PAGE - 1) & -PAGE, lowRamEnd);
            if (mem == null) {
                return new LoadedKernel(LoadedKernel.Protocol.PVH, elf.entry(), X86Layout.PVH_INFO, rd[0], rd[1]);
            }
            for (ElfKernel.Segment s : elf.segments()) {
                MemorySegment dst = mem.slice(s.paddr(), s.memSize());
                k.copyTo(s.fileOffset(), dst.asSlice(0, s.fileSize()));
                dst.asSlice(s.fileSize()).fill((byte) 0);
            }
            mem.write(X86Layout.CMDLINE, cmd);
            int modules = 0;
            if (rd[1] > 0) {
                mem.write(X86Layout.PVH_MODLIST, PvhStartInfo.module(rd[0], rd[1]));
                modules = 1;
            }
            mem.write(X86Layout.PVH_MEMMAP, PvhStartInfo.memmap(e820));
            mem.write(X86Layout.PVH_INFO, PvhStartInfo.startInfo(X86Layout.CMDLINE, modules, X86Layout.PVH_MODLIST,
                    rsdpAddr, X86Layout.PVH_MEMMAP, e820.size()));
            return new LoadedKernel(LoadedKernel.Protocol.PVH, elf.entry(), X86Layout.PVH_INFO, rd[0], rd[1]);
        } catch (GuestMemoryException e) {
            throw new UserError("memory too small for " + what + ": " + e.getMessage());
        }
    }

    /** The command line plus its terminating NUL; too long is the user's mistake. */
    static byte[] cmdlineBytes(String cmdline, long max) {
        byte[] text = cmdline.getBytes(StandardCharsets.US_ASCII);
        if (!StandardCharsets.US_ASCII.newEncoder().canEncode(cmdline) || cmdline.indexOf('\0') >= 0) {
            throw new UserError("kernel command line must be printable ASCII without NUL");
        }
        if (text.length > max) {
            throw new UserError("kernel command line too long: " + text.length + " bytes, the kernel accepts at most " + max);
        }
        byte[] out = new byte[text.length + 1];
        System.arraycopy(text, 0, out, 0, text.length);
        return out;
    }

    /**
     * Places the initramfs at the highest page-aligned address below {@code limit} that stays
     * above {@code floor} (the kernel's end): where boot loaders traditionally put it. With a
     * null {@code mem} only the placement is computed.
     * Returns {address, size}, or {0, 0} without an initramfs.
     */
    static long[] loadInitramfs(GuestMemory mem, Path initramfs, long floor, long limit) throws GuestMemoryException {
        if (initramfs == null) {
            return new long[] {0, 0};
        }
        try (KernelFile f = KernelFile.open(initramfs, "initramfs")) {
            long size = f.size();
            if (size == 0) {
                throw new UserError("initramfs " + initramfs + " is empty");
            }
            long addr = (limit - size) & -PAGE;
            if (limit - size < floor || addr < floor) {
                throw new UserError(String.format("memory too small: kernel and initramfs (%d MiB) do not fit below %d MiB",
                        (size + floor + (1 << 20) - 1) >> 20, limit >> 20));
            }
            if (mem != null) {
                f.copyTo(0, mem.slice(addr, size));
            }
            return new long[] {addr, size};
        }
    }
}
