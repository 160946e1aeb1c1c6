package io.qingtian.kvm;

import static io.qingtian.kvm.Ioctl.io;
import static io.qingtian.kvm.Ioctl.ior;
import static io.qingtian.kvm.Ioctl.iow;
import static io.qingtian.kvm.Ioctl.iowr;

/** KVM ioctl request numbers ({@code <linux/kvm.h>}), derived from the struct layouts. */
public final class KvmIoctls {
    /** KVMIO, the ioctl type byte of every KVM request. */
    public static final int KVMIO = 0xAE;

    // System ioctls (on the /dev/kvm fd).
    public static final long KVM_GET_API_VERSION = io(KVMIO, 0x00);
    public static final long KVM_CREATE_VM = io(KVMIO, 0x01);
    public static final long KVM_GET_MSR_INDEX_LIST = iowr(KVMIO, 0x02, KvmLayouts.MSR_LIST.byteSize());
    public static final long KVM_CHECK_EXTENSION = io(KVMIO, 0x03);
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(KVMIO, 0x04);
    public static final long KVM_GET_SUPPORTED_CPUID = iowr(KVMIO, 0x05, KvmLayouts.CPUID2.byteSize());

    // VM ioctls.
    public static final long KVM_CREATE_VCPU = io(KVMIO, 0x41);
    public static final long KVM_SET_USER_MEMORY_REGION = iow(KVMIO, 0x46, KvmLayouts.USERSPACE_MEMORY_REGION.byteSize());
    public static final long KVM_SET_TSS_ADDR = io(KVMIO, 0x47);
    public static final long KVM_SET_IDENTITY_MAP_ADDR = iow(KVMIO, 0x48, 8);
    public static final long KVM_CREATE_IRQCHIP = io(KVMIO, 0x60);
    public static final long KVM_IRQ_LINE = iow(KVMIO, 0x61, KvmLayouts.IRQ_LEVEL.byteSize());
    public static final long KVM_IRQ_LINE_STATUS = iowr(KVMIO, 0x67, KvmLayouts.IRQ_LEVEL.byteSize());
    public static final long KVM_SET_GSI_ROUTING = iow(KVMIO, 0x6a, KvmLayouts.IRQ_ROUTING.byteSize());
    public static final long KVM_IRQFD = iow(KVMIO, 0x76, KvmLayouts.IRQFD.byteSize());
    public static final long KVM_CREATE_PIT2 = iow(KVMIO, 0x77, KvmLayouts.PIT_CONFIG.byteSize());
    public static final long KVM_IOEVENTFD = iow(KVMIO, 0x79, KvmLayouts.IOEVENTFD.byteSize());
    public static final long KVM_ENABLE_CAP = iow(KVMIO, 0xa3, KvmLayouts.ENABLE_CAP.byteSize());

    // vCPU ioctls.
    public static final long KVM_RUN = io(KVMIO, 0x80);
    public static final long KVM_GET_REGS = ior(KVMIO, 0x81, KvmLayouts.REGS.byteSize());
    public static final long KVM_SET_REGS = iow(KVMIO, 0x82, KvmLayouts.REGS.byteSize());
    public static final long KVM_GET_SREGS = ior(KVMIO, 0x83, KvmLayouts.SREGS.byteSize());
    public static final long KVM_SET_SREGS = iow(KVMIO, 0x84, KvmLayouts.SREGS.byteSize());
    public static final long KVM_GET_MSRS = iowr(KVMIO, 0x88, KvmLayouts.MSRS.byteSize());
    public static final long KVM_SET_MSRS = iow(KVMIO, 0x89, KvmLayouts.MSRS.byteSize());
    public static final long KVM_SET_SIGNAL_MASK = iow(KVMIO, 0x8b, KvmLayouts.SIGNAL_MASK.byteSize());
    public static final long KVM_GET_FPU = ior(KVMIO, 0x8c, KvmLayouts.FPU.byteSize());
    public static final long KVM_SET_FPU = iow(KVMIO, 0x8d, KvmLayouts.FPU.byteSize());
    public static final long KVM_GET_LAPIC = ior(KVMIO, 0x8e, KvmLayouts.LAPIC_STATE.byteSize());
    public static final long KVM_SET_LAPIC = iow(KVMIO, 0x8f, KvmLayouts.LAPIC_STATE.byteSize());
    public static final long KVM_SET_CPUID2 = iow(KVMIO, 0x90, KvmLayouts.CPUID2.byteSize());
    public static final long KVM_GET_CPUID2 = iowr(KVMIO, 0x91, KvmLayouts.CPUID2.byteSize());
    public static final long KVM_GET_MP_STATE = ior(KVMIO, 0x98, KvmLayouts.MP_STATE.byteSize());
    public static final long KVM_SET_MP_STATE = iow(KVMIO, 0x99, KvmLayouts.MP_STATE.byteSize());
    public static final long KVM_GET_TSC_KHZ = io(KVMIO, 0xa3);

    private KvmIoctls() {}
}
