package io.qingtian.kvm;

/** KVM_CAP_* extension numbers for {@link Kvm#checkExtension} ({@code <linux/kvm.h>}). */
public final class KvmCap {
    public static final int IRQCHIP = 0;
    public static final int HLT = 1;
    public static final int USER_MEMORY = 3;
    public static final int SET_TSS_ADDR = 4;
    public static final int EXT_CPUID = 7;
    public static final int NR_VCPUS = 9;
    public static final int NR_MEMSLOTS = 10;
    public static final int IRQ_ROUTING = 25;
    public static final int IRQ_INJECT_STATUS = 26;
    public static final int IRQFD = 32;
    public static final int PIT2 = 33;
    public static final int PIT_STATE2 = 35;
    public static final int IOEVENTFD = 36;
    public static final int SET_IDENTITY_MAP_ADDR = 37;
    public static final int ADJUST_CLOCK = 39;
    public static final int TSC_CONTROL = 60;
    public static final int GET_TSC_KHZ = 61;
    public static final int MAX_VCPUS = 66;
    public static final int TSC_DEADLINE_TIMER = 72;
    public static final int SPLIT_IRQCHIP = 121;
    public static final int MAX_VCPU_ID = 128;
    public static final int X2APIC_API = 129;
    public static final int IMMEDIATE_EXIT = 136;

    private KvmCap() {}
}
