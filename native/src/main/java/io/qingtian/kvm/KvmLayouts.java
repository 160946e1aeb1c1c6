package io.qingtian.kvm;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * The KVM structures of {@code <linux/kvm.h>} and {@code <asm/kvm.h>} (x86_64) as memory
 * layouts, field names as in the headers. Sizes are checked against the C headers in
 * {@code KvmLayoutsTest}.
 */
public final class KvmLayouts {
    private KvmLayouts() {}

    /** struct kvm_userspace_memory_region. */
    public static final StructLayout USERSPACE_MEMORY_REGION = structLayout(
            JAVA_INT.withName("slot"), JAVA_INT.withName("flags"),
            JAVA_LONG.withName("guest_phys_addr"), JAVA_LONG.withName("memory_size"),
            JAVA_LONG.withName("userspace_addr"));

    /** struct kvm_regs: general purpose registers, in this order. */
    public static final StructLayout REGS = structLayout(
            JAVA_LONG.withName("rax"), JAVA_LONG.withName("rbx"), JAVA_LONG.withName("rcx"), JAVA_LONG.withName("rdx"),
            JAVA_LONG.withName("rsi"), JAVA_LONG.withName("rdi"), JAVA_LONG.withName("rsp"), JAVA_LONG.withName("rbp"),
            JAVA_LONG.withName("r8"), JAVA_LONG.withName("r9"), JAVA_LONG.withName("r10"), JAVA_LONG.withName("r11"),
            JAVA_LONG.withName("r12"), JAVA_LONG.withName("r13"), JAVA_LONG.withName("r14"), JAVA_LONG.withName("r15"),
            JAVA_LONG.withName("rip"), JAVA_LONG.withName("rflags"));

    /** struct kvm_segment. */
    public static final StructLayout SEGMENT = structLayout(
            JAVA_LONG.withName("base"), JAVA_INT.withName("limit"), JAVA_SHORT.withName("selector"),
            JAVA_BYTE.withName("type"), JAVA_BYTE.withName("present"), JAVA_BYTE.withName("dpl"),
            JAVA_BYTE.withName("db"), JAVA_BYTE.withName("s"), JAVA_BYTE.withName("l"), JAVA_BYTE.withName("g"),
            JAVA_BYTE.withName("avl"), JAVA_BYTE.withName("unusable"), JAVA_BYTE.withName("padding"));

    /** struct kvm_dtable (GDTR/IDTR). */
    public static final StructLayout DTABLE = structLayout(
            JAVA_LONG.withName("base"), JAVA_SHORT.withName("limit"), sequenceLayout(3, JAVA_SHORT).withName("padding"));

    /** KVM_NR_INTERRUPTS = 256, so the pending-interrupt bitmap is 4 longs. */
    public static final int NR_INTERRUPTS = 256;

    /** struct kvm_sregs. */
    public static final StructLayout SREGS = structLayout(
            SEGMENT.withName("cs"), SEGMENT.withName("ds"), SEGMENT.withName("es"), SEGMENT.withName("fs"),
            SEGMENT.withName("gs"), SEGMENT.withName("ss"), SEGMENT.withName("tr"), SEGMENT.withName("ldt"),
            DTABLE.withName("gdt"), DTABLE.withName("idt"),
            JAVA_LONG.withName("cr0"), JAVA_LONG.withName("cr2"), JAVA_LONG.withName("cr3"), JAVA_LONG.withName("cr4"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("efer"), JAVA_LONG.withName("apic_base"),
            sequenceLayout((NR_INTERRUPTS + 63) / 64, JAVA_LONG).withName("interrupt_bitmap"));

    /** struct kvm_fpu (legacy FXSAVE-like image). */
    public static final StructLayout FPU = structLayout(
            sequenceLayout(8 * 16, JAVA_BYTE).withName("fpr"),
            JAVA_SHORT.withName("fcw"), JAVA_SHORT.withName("fsw"), JAVA_BYTE.withName("ftwx"), JAVA_BYTE.withName("pad1"),
            JAVA_SHORT.withName("last_opcode"), JAVA_LONG.withName("last_ip"), JAVA_LONG.withName("last_dp"),
            sequenceLayout(16 * 16, JAVA_BYTE).withName("xmm"),
            JAVA_INT.withName("mxcsr"), JAVA_INT.withName("pad2"));

    /** struct kvm_cpuid_entry2. */
    public static final StructLayout CPUID_ENTRY2 = structLayout(
            JAVA_INT.withName("function"), JAVA_INT.withName("index"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"), JAVA_INT.withName("ebx"), JAVA_INT.withName("ecx"), JAVA_INT.withName("edx"),
            sequenceLayout(3, JAVA_INT).withName("padding"));

    /** struct kvm_cpuid2 header (nent, padding); entries follow. */
    public static final StructLayout CPUID2 = structLayout(JAVA_INT.withName("nent"), JAVA_INT.withName("padding"));

    /** struct kvm_msr_entry. */
    public static final StructLayout MSR_ENTRY = structLayout(
            JAVA_INT.withName("index"), JAVA_INT.withName("reserved"), JAVA_LONG.withName("data"));

    /** struct kvm_msrs header (nmsrs, pad); entries follow. */
    public static final StructLayout MSRS = structLayout(JAVA_INT.withName("nmsrs"), JAVA_INT.withName("pad"));

    /** struct kvm_msr_list header (nmsrs); indices follow. */
    public static final StructLayout MSR_LIST = structLayout(JAVA_INT.withName("nmsrs"));

    /** KVM_APIC_REG_SIZE: struct kvm_lapic_state is the 1 KiB APIC register page. */
    public static final StructLayout LAPIC_STATE = structLayout(sequenceLayout(1024, JAVA_BYTE).withName("regs"));

    /** struct kvm_mp_state. */
    public static final StructLayout MP_STATE = structLayout(JAVA_INT.withName("mp_state"));

    /** struct kvm_irq_level (irq is a union with status). */
    public static final StructLayout IRQ_LEVEL = structLayout(JAVA_INT.withName("irq"), JAVA_INT.withName("level"));

    /** struct kvm_pit_config. */
    public static final StructLayout PIT_CONFIG = structLayout(
            JAVA_INT.withName("flags"), sequenceLayout(15, JAVA_INT).withName("pad"));

    /** struct kvm_irqfd. */
    public static final StructLayout IRQFD = structLayout(
            JAVA_INT.withName("fd"), JAVA_INT.withName("gsi"), JAVA_INT.withName("flags"),
            JAVA_INT.withName("resamplefd"), sequenceLayout(16, JAVA_BYTE).withName("pad"));

    /** struct kvm_ioeventfd. */
    public static final StructLayout IOEVENTFD = structLayout(
            JAVA_LONG.withName("datamatch"), JAVA_LONG.withName("addr"), JAVA_INT.withName("len"),
            JAVA_INT.withName("fd"), JAVA_INT.withName("flags"), sequenceLayout(36, JAVA_BYTE).withName("pad"));

    /** struct kvm_irq_routing header (nr, flags); entries follow. */
    public static final StructLayout IRQ_ROUTING = structLayout(JAVA_INT.withName("nr"), JAVA_INT.withName("flags"));

    /** struct kvm_irq_routing_entry: gsi, type, flags, pad, then a 32-byte union. */
    public static final StructLayout IRQ_ROUTING_ENTRY = structLayout(
            JAVA_INT.withName("gsi"), JAVA_INT.withName("type"), JAVA_INT.withName("flags"), JAVA_INT.withName("pad"),
            sequenceLayout(8, JAVA_INT).withName("u"));

    /** struct kvm_signal_mask header (len); the sigset bytes follow. */
    public static final StructLayout SIGNAL_MASK = structLayout(JAVA_INT.withName("len"));

    /** struct kvm_enable_cap. */
    public static final StructLayout ENABLE_CAP = structLayout(
            JAVA_INT.withName("cap"), JAVA_INT.withName("flags"), sequenceLayout(4, JAVA_LONG).withName("args"),
            sequenceLayout(64, JAVA_BYTE).withName("pad"));

    /** The fixed head of struct kvm_run; the exit-specific union starts at {@link KvmRun#UNION}. */
    public static final StructLayout RUN_HEAD = structLayout(
            JAVA_BYTE.withName("request_interrupt_window"), JAVA_BYTE.withName("immediate_exit"),
            paddingLayout(6),
            JAVA_INT.withName("exit_reason"), JAVA_BYTE.withName("ready_for_interrupt_injection"),
            JAVA_BYTE.withName("if_flag"), JAVA_SHORT.withName("flags"),
            JAVA_LONG.withName("cr8"), JAVA_LONG.withName("apic_base"));

    /** kvm_run.io (KVM_EXIT_IO). */
    public static final StructLayout RUN_IO = structLayout(
            JAVA_BYTE.withName("direction"), JAVA_BYTE.withName("size"), JAVA_SHORT.withName("port"),
            JAVA_INT.withName("count"), JAVA_LONG.withName("data_offset"));

    /** kvm_run.mmio (KVM_EXIT_MMIO). */
    public static final StructLayout RUN_MMIO = structLayout(
            JAVA_LONG.withName("phys_addr"), sequenceLayout(8, JAVA_BYTE).withName("data"),
            JAVA_INT.withName("len"), JAVA_BYTE.withName("is_write"), paddingLayout(3));

    static long offset(MemoryLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }
}
