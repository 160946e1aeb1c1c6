package io.qingtian.hypervisor.x86;

import io.qingtian.kvm.KvmFpu;
import io.qingtian.kvm.KvmLapicState;
import io.qingtian.kvm.KvmRegs;
import io.qingtian.kvm.KvmSregs;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.lang.foreign.Arena;

/**
 * The CPU state a kernel entry point expects, written into guest memory (GDT, IDT, page
 * tables) and into the boot vCPU (segment, control and general registers).
 *
 * <ul>
 *   <li>64-bit Linux boot protocol (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"):
 *       long mode, paging on with an identity map covering the kernel, boot_params and
 *       command line, __BOOT_CS/__BOOT_DS flat segments, %rsi = boot_params, interrupts off.</li>
 *   <li>PVH (xen/include/public/arch-x86/hvm/start_info.h, "x86 PVH boot"): 32-bit protected
 *       mode, paging off, flat CS/DS, TR a 32-bit TSS, %ebx = hvm_start_info.</li>
 * </ul>
 */
public final class BootCpu {
    static final long CR0_PE = 1;
    static final long CR0_ET = 1L << 4;
    static final long CR0_NW = 1L << 29;
    static final long CR0_CD = 1L << 30;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1L << 5;
    static final long EFER_LME = 1L << 8;
    static final long EFER_LMA = 1L << 10;
    /** Page-table entry bits: present, writable, page size (2 MiB in a PD). */
    static final long PTE_P = 1;
    static final long PTE_RW = 2;
    static final long PTE_PS = 0x80;
    /** The identity map covers the first 4 GiB with 2 MiB pages: 4 page directories. */
    static final int IDENTITY_GIB = 4;

    /** LVT delivery modes (Intel SDM vol. 3A, 11.5.1). */
    static final int APIC_MODE_NMI = 0x4;
    static final int APIC_MODE_EXTINT = 0x7;

    private BootCpu() {}

    public static long[] longModeGdt() {
        return new long[] {0, Gdt.entry(Gdt.CODE64, 0, 0xfffff), Gdt.entry(Gdt.DATA, 0, 0xfffff),
                Gdt.entry(Gdt.TSS_G, 0, 0xfffff)};
    }

    public static long[] protectedModeGdt() {
        return new long[] {0, Gdt.entry(Gdt.CODE32, 0, 0xfffff), Gdt.entry(Gdt.DATA, 0, 0xfffff),
                Gdt.entry(Gdt.TSS, 0, 0x67)};
    }

    /** Writes the GDT, an empty IDT and the 4 GiB identity page tables into guest memory. */
    public static void writeTables(GuestMemory mem, long[] gdt) throws GuestMemoryException {
        for (int i = 0; i < gdt.length; i++) {
            mem.writeU64(X86Layout.BOOT_GDT + 8L * i, gdt[i]);
        }
        mem.writeU64(X86Layout.BOOT_IDT, 0);
        mem.slice(X86Layout.PML4, 0x1000).fill((byte) 0);
        mem.slice(X86Layout.PDPT, 0x1000).fill((byte) 0);
        mem.writeU64(X86Layout.PML4, X86Layout.PDPT | PTE_P | PTE_RW);
        for (int g = 0; g < IDENTITY_GIB; g++) {
            long pd = X86Layout.PD + 0x1000L * g;
            mem.writeU64(X86Layout.PDPT + 8L * g, pd | PTE_P | PTE_RW);
            for (int i = 0; i < 512; i++) {
                long phys = ((long) g << 30) | ((long) i << 21);
                mem.writeU64(pd + 8L * i, phys | PTE_P | PTE_RW | PTE_PS);
            }
        }
    }

    /** The vCPU at the 64-bit entry: long mode with the identity map, %rsi = {@code zeroPage}. */
    public static void enterLongMode(KvmVcpu vcpu, long entry, long zeroPage) {
        long[] gdt = longModeGdt();
        try (Arena a = Arena.ofConfined()) {
            KvmSregs s = KvmSregs.allocate(a);
            vcpu.getSregs(s);
            loadSegments(s, gdt);
            s.cr0((s.cr0() & ~(CR0_CD | CR0_NW)) | CR0_PE | CR0_ET | CR0_PG);
            s.cr3(X86Layout.PML4);
            s.cr4(s.cr4() | CR4_PAE);
            s.efer(s.efer() | EFER_LME | EFER_LMA);
            vcpu.setSregs(s);

            KvmRegs r = KvmRegs.allocate(a);
            r.rflags(2).rip(entry).rsp(X86Layout.BOOT_STACK_POINTER).rbp(X86Layout.BOOT_STACK_POINTER).rsi(zeroPage);
            vcpu.setRegs(r);
        }
    }

    /** The vCPU at a PVH entry: 32-bit protected mode, paging off, %ebx = {@code startInfo}. */
    public static void enterProtectedMode(KvmVcpu vcpu, long entry, long startInfo) {
        long[] gdt = protectedModeGdt();
        try (Arena a = Arena.ofConfined()) {
            KvmSregs s = KvmSregs.allocate(a);
            vcpu.getSregs(s);
            loadSegments(s, gdt);
            s.cr0((s.cr0() & ~(CR0_CD | CR0_NW | CR0_PG)) | CR0_PE | CR0_ET);
            s.cr4(0);
            s.efer(0);
            vcpu.setSregs(s);

            KvmRegs r = KvmRegs.allocate(a);
            r.rflags(2).rip(entry).rbx(startInfo);
            vcpu.setRegs(r);
        }
    }

    private static void loadSegments(KvmSregs s, long[] gdt) {
        Gdt.load(s.cs(), gdt[1], Gdt.CODE_SELECTOR);
        Gdt.load(s.ds(), gdt[2], Gdt.DATA_SELECTOR);
        Gdt.load(s.es(), gdt[2], Gdt.DATA_SELECTOR);
        Gdt.load(s.fs(), gdt[2], Gdt.DATA_SELECTOR);
        Gdt.load(s.gs(), gdt[2], Gdt.DATA_SELECTOR);
        Gdt.load(s.ss(), gdt[2], Gdt.DATA_SELECTOR);
        Gdt.load(s.tr(), gdt[3], Gdt.TSS_SELECTOR);
        s.gdt(X86Layout.BOOT_GDT, gdt.length * 8 - 1);
        s.idt(X86Layout.BOOT_IDT, 7);
    }

    /** x87 control word 0x37f (all exceptions masked) and MXCSR 0x1f80, the power-on values. */
    public static void setupFpu(KvmVcpu vcpu) {
        try (Arena a = Arena.ofConfined()) {
            KvmFpu f = KvmFpu.allocate(a);
            f.fcw(0x37f).mxcsr(0x1f80);
            vcpu.setFpu(f);
        }
    }

    /**
     * LINT0 as ExtINT (the 8259 PIC's output, used until the IOAPIC takes over) and LINT1 as
     * NMI, as a PC BIOS leaves them (MP spec 1.4, "virtual wire mode").
     */
    public static void setupLint(KvmVcpu vcpu) {
        KvmLapicState l = vcpu.getLapic();
        l.reg(KvmLapicState.APIC_LVT0, deliveryMode(l.reg(KvmLapicState.APIC_LVT0), APIC_MODE_EXTINT));
        l.reg(KvmLapicState.APIC_LVT1, deliveryMode(l.reg(KvmLapicState.APIC_LVT1), APIC_MODE_NMI));
        vcpu.setLapic(l);
    }

    static int deliveryMode(int lvt, int mode) {
        return (lvt & ~0x700) | (mode << 8);
    }
}
