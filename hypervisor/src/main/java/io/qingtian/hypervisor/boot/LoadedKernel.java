package io.qingtian.hypervisor.boot;

/**
 * Where the boot vCPU starts after a kernel has been loaded.
 *
 * @param protocol       which entry convention the vCPU must follow
 * @param entry          guest-physical entry point
 * @param bootInfo       boot_params (LINUX_64) or hvm_start_info (PVH) address
 * @param initramfsAddr  guest address of the initramfs, or 0
 * @param initramfsSize  its size in bytes, or 0
 */
public record LoadedKernel(Protocol protocol, long entry, long bootInfo, long initramfsAddr, long initramfsSize) {
    public enum Protocol {
        /** bzImage through the 64-bit entry (boot protocol >= 2.12): long mode, %rsi = boot_params. */
        LINUX_64,
        /** ELF vmlinux through the PVH entry: 32-bit protected mode, %ebx = hvm_start_info. */
        PVH
    }
}
