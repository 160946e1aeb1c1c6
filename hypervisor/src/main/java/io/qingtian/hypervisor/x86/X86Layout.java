package io.qingtian.hypervisor.x86;

/**
 * Where things live in the guest-physical address space of an x86_64 VM. The low-memory
 * addresses follow Firecracker's arch/x86_64/layout.rs (a layout stock Linux is known to
 * accept); the 32-bit MMIO hole follows Cloud Hypervisor (RAM below 3 GiB, the rest above
 * 4 GiB).
 */
public final class X86Layout {
    /** GDT used for the boot entry (4 descriptors). */
    public static final long BOOT_GDT = 0x500;
    /** An empty IDT: interrupts stay off until the kernel installs its own. */
    public static final long BOOT_IDT = 0x520;
    /** PVH: struct hvm_start_info, pointed to by %ebx at entry. */
    public static final long PVH_INFO = 0x6000;
    /** PVH: the module list (the initramfs), right after the start info. */
    public static final long PVH_MODLIST = 0x6040;
    /** PVH: the memory map table. */
    public static final long PVH_MEMMAP = 0x6100;
    /** bzImage: struct boot_params, the "zero page", pointed to by %rsi at entry. */
    public static final long ZERO_PAGE = 0x7000;
    /** Boot stack top (grows down inside the page below the page tables). */
    public static final long BOOT_STACK_POINTER = 0x8ff0;
    /** Identity page tables for the 64-bit entry: PML4, PDPT, then four page directories. */
    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xa000;
    public static final long PD = 0xb000;
    /** Kernel command line (zero terminated). */
    public static final long CMDLINE = 0x20000;
    /** Upper bound of our own command line buffer (boot_params.hdr.cmdline_size may be lower). */
    public static final int CMDLINE_MAX = 0x10000;
    /** Start of the extended BIOS data area; low RAM in the e820 map ends here. */
    public static final long EBDA_START = 0x9fc00;
    /** ACPI tables (RSDP first, so the kernel's 0xE0000-0xFFFFF scan finds it too). */
    public static final long ACPI_START = 0xe0000;
    public static final long ACPI_END = 0x100000;
    /** First byte above the legacy area: RAM starts here again in the e820 map. */
    public static final long HIGH_RAM_START = 0x100000;
    /** Default load address of a bzImage's protected-mode kernel when it is not relocatable. */
    public static final long KERNEL_DEFAULT_LOAD = 0x1000000;
    /** The 32-bit MMIO hole: [3 GiB, 4 GiB). */
    public static final long MMIO_HOLE_START = 0xc000_0000L;
    public static final long MMIO_HOLE_END = 0x1_0000_0000L;
    /** IOAPIC and local APIC MMIO windows (in the hole, handled by the in-kernel irqchip). */
    public static final long IOAPIC_ADDRESS = 0xfec0_0000L;
    public static final long LAPIC_ADDRESS = 0xfee0_0000L;
    /** KVM_SET_TSS_ADDR: three pages VMX needs, in the hole just below the BIOS area. */
    public static final long KVM_TSS_ADDRESS = 0xfffb_d000L;
    /** KVM_SET_IDENTITY_MAP_ADDR: one page right below the TSS. */
    public static final long KVM_IDENTITY_MAP_ADDRESS = 0xfffb_c000L;

    private X86Layout() {}
}
