package io.qingtian.hypervisor.x86;

import io.qingtian.kvm.MsrEntry;
import java.util.List;

/**
 * MSR values every vCPU starts with, as Firecracker's create_boot_msr_entries: syscall MSRs
 * cleared, fast strings enabled, and MTRRs enabled with write-back as the default type
 * (without that Linux maps all RAM uncached and boots very slowly).
 */
public final class BootMsrs {
    public static final int IA32_SYSENTER_CS = 0x174;
    public static final int IA32_SYSENTER_ESP = 0x175;
    public static final int IA32_SYSENTER_EIP = 0x176;
    public static final int IA32_TSC = 0x10;
    public static final int IA32_MISC_ENABLE = 0x1a0;
    public static final int IA32_MTRR_DEF_TYPE = 0x2ff;
    public static final int MSR_STAR = 0xc000_0081;
    public static final int MSR_LSTAR = 0xc000_0082;
    public static final int MSR_CSTAR = 0xc000_0083;
    public static final int MSR_SYSCALL_MASK = 0xc000_0084;
    public static final int MSR_KERNEL_GS_BASE = 0xc000_0102;

    /** IA32_MISC_ENABLE bit 0: fast-string operations. */
    static final long MISC_ENABLE_FAST_STRING = 1;
    /** IA32_MTRR_DEF_TYPE: E (bit 11) set, default memory type 6 = write-back. */
    static final long MTRR_ENABLE_WB = (1L << 11) | 6;

    private BootMsrs() {}

    public static List<MsrEntry> entries() {
        return List.of(
                new MsrEntry(IA32_SYSENTER_CS, 0),
                new MsrEntry(IA32_SYSENTER_ESP, 0),
                new MsrEntry(IA32_SYSENTER_EIP, 0),
                new MsrEntry(MSR_STAR, 0),
                new MsrEntry(MSR_CSTAR, 0),
                new MsrEntry(MSR_KERNEL_GS_BASE, 0),
                new MsrEntry(MSR_SYSCALL_MASK, 0),
                new MsrEntry(MSR_LSTAR, 0),
                new MsrEntry(IA32_TSC, 0),
                new MsrEntry(IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
                new MsrEntry(IA32_MTRR_DEF_TYPE, MTRR_ENABLE_WB));
    }
}
