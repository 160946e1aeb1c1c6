package io.qingtian.hypervisor;

import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.sys.UserError;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What to run: the whole VM description, validated once when it is made (Firecracker's
 * VmResources: machine-config + boot-source). The CLI and any API produce one of these;
 * only {@link VmBuilder} turns it into a VM. Invalid values are {@link UserError}s.
 */
public record VmConfig(Machine machine, BootSource boot, PciDevicesConfig devices) {
    /** xAPIC IDs are 8 bits and 0xFF is the broadcast ID, and the MADT uses 8-bit IDs. */
    public static final int MAX_VCPUS = 254;
    public static final long MIN_MEMORY = 16L << 20;
    public static final long MAX_MEMORY = 1L << 40;
    /** Firecracker's defaults, plus the console on COM1. panic=1 reboots 1 s after a panic (exit status REBOOT). */
    public static final String DEFAULT_CMDLINE =
            "console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

    public VmConfig {
        if (machine == null || boot == null) {
            throw new UserError("VM configuration needs a machine and a boot source");
        }
        if (devices == null) {
            devices = PciDevicesConfig.defaults();
        }
    }

    /** A VM with the default PCI devices (virtio-rng only). */
    public VmConfig(Machine machine, BootSource boot) {
        this(machine, boot, PciDevicesConfig.defaults());
    }

    /**
     * @param vcpus       number of vCPUs, 1..{@link #MAX_VCPUS}
     * @param memoryBytes guest RAM, a multiple of 1 MiB, {@link #MIN_MEMORY}..{@link #MAX_MEMORY}
     * @param backing     how the host backs guest RAM (shareable memfd unless a caller opts out)
     */
    public record Machine(int vcpus, long memoryBytes, GuestRam.Backing backing) {
        /** A machine with shareable (memfd) RAM. */
        public Machine(int vcpus, long memoryBytes) {
            this(vcpus, memoryBytes, GuestRam.Backing.SHARED_MEMFD);
        }

        public Machine {
            if (backing == null) {
                backing = GuestRam.Backing.SHARED_MEMFD;
            }
            if (vcpus < 1 || vcpus > MAX_VCPUS) {
                throw new UserError("too many vCPUs: " + vcpus + " (this hypervisor supports 1 to " + MAX_VCPUS + ")");
            }
            if (memoryBytes < MIN_MEMORY) {
                throw new UserError("memory too small: " + (memoryBytes >> 20) + " MiB (at least "
                        + (MIN_MEMORY >> 20) + " MiB)");
            }
            if (memoryBytes > MAX_MEMORY) {
                throw new UserError("memory too large: " + (memoryBytes >> 30) + " GiB (at most "
                        + (MAX_MEMORY >> 30) + " GiB)");
            }
            if ((memoryBytes & ((1 << 20) - 1)) != 0) {
                throw new UserError("memory must be a whole number of MiB: " + memoryBytes + " bytes");
            }
        }
    }

    /**
     * @param kernel    a bzImage (boot protocol 2.12+) or an ELF vmlinux with a PVH note
     * @param initramfs an initramfs (cpio, optionally compressed), or null
     * @param cmdline   the kernel command line (printable ASCII)
     */
    public record BootSource(Path kernel, Path initramfs, String cmdline) {
        public BootSource {
            requireReadableFile(kernel, "kernel");
            if (initramfs != null) {
                requireReadableFile(initramfs, "initramfs");
            }
            if (cmdline == null) {
                cmdline = DEFAULT_CMDLINE;
            }
            for (int i = 0; i < cmdline.length(); i++) {
                char c = cmdline.charAt(i);
                if (c < 0x20 || c > 0x7e) {
                    throw new UserError("kernel command line must be printable ASCII (bad character at position " + i + ")");
                }
            }
        }
    }

    private static void requireReadableFile(Path p, String what) {
        if (p == null) {
            throw new UserError("no " + what + " given");
        }
        if (!Files.exists(p)) {
            throw new UserError(what + " " + p + " does not exist");
        }
        if (!Files.isRegularFile(p)) {
            throw new UserError(what + " " + p + " is not a regular file");
        }
        if (!Files.isReadable(p)) {
            throw new UserError(what + " " + p + " is not readable");
        }
    }

    /** Parses a size such as {@code 256M}, {@code 1G}, {@code 524288K} or a bare number of MiB. */
    public static long parseSize(String text) {
        String s = text == null ? "" : text.trim().toUpperCase(java.util.Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) {
            s = s.substring(0, s.length() - 1);
        }
        long unit = 1L << 20;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> unit = 1L << 10;
                case 'M' -> unit = 1L << 20;
                case 'G' -> unit = 1L << 30;
                case 'T' -> unit = 1L << 40;
                default -> unit = 0;
            }
            if (unit != 0) {
                s = s.substring(0, s.length() - 1);
            } else {
                unit = 1L << 20;
            }
        }
        try {
            long n = Long.parseLong(s);
            if (n <= 0 || n > Long.MAX_VALUE / unit) {
                throw new NumberFormatException();
            }
            return n * unit;
        } catch (NumberFormatException e) {
            throw new UserError("bad memory size '" + text + "': use e.g. 256M, 1G or a number of MiB");
        }
    }
}
