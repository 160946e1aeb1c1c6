package io.qingtian.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Sizes, offsets and ioctl numbers against the values gcc computes from {@code <linux/kvm.h>} (x86_64). */
class KvmLayoutsTest {
    @Test
    void structSizesMatchTheKernelHeaders() {
        assertThat(KvmLayouts.USERSPACE_MEMORY_REGION.byteSize()).isEqualTo(32);
        assertThat(KvmLayouts.REGS.byteSize()).isEqualTo(144);
        assertThat(KvmLayouts.SEGMENT.byteSize()).isEqualTo(24);
        assertThat(KvmLayouts.DTABLE.byteSize()).isEqualTo(16);
        assertThat(KvmLayouts.SREGS.byteSize()).isEqualTo(312);
        assertThat(KvmLayouts.FPU.byteSize()).isEqualTo(416);
        assertThat(KvmLayouts.CPUID_ENTRY2.byteSize()).isEqualTo(40);
        assertThat(KvmLayouts.MSR_ENTRY.byteSize()).isEqualTo(16);
        assertThat(KvmLayouts.LAPIC_STATE.byteSize()).isEqualTo(1024);
        assertThat(KvmLayouts.PIT_CONFIG.byteSize()).isEqualTo(64);
        assertThat(KvmLayouts.IRQFD.byteSize()).isEqualTo(32);
        assertThat(KvmLayouts.IOEVENTFD.byteSize()).isEqualTo(64);
        assertThat(KvmLayouts.IRQ_ROUTING_ENTRY.byteSize()).isEqualTo(48);
        assertThat(KvmLayouts.ENABLE_CAP.byteSize()).isEqualTo(104);
    }

    @Test
    void fieldOffsetsMatchTheKernelHeaders() {
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "gdt")).isEqualTo(192);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "cr0")).isEqualTo(224);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "efer")).isEqualTo(264);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "apic_base")).isEqualTo(272);
        assertThat(KvmLayouts.offset(KvmLayouts.SREGS, "interrupt_bitmap")).isEqualTo(280);
        assertThat(KvmLayouts.offset(KvmLayouts.FPU, "fcw")).isEqualTo(128);
        assertThat(KvmLayouts.offset(KvmLayouts.FPU, "xmm")).isEqualTo(152);
        assertThat(KvmLayouts.offset(KvmLayouts.FPU, "mxcsr")).isEqualTo(408);
        assertThat(KvmLayouts.offset(KvmLayouts.IOEVENTFD, "fd")).isEqualTo(20);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN_HEAD, "exit_reason")).isEqualTo(8);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN_HEAD, "if_flag")).isEqualTo(13);
        assertThat(KvmRun.UNION).isEqualTo(32);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN_IO, "data_offset")).isEqualTo(8);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN_MMIO, "len")).isEqualTo(16);
        assertThat(KvmLayouts.offset(KvmLayouts.RUN_MMIO, "is_write")).isEqualTo(20);
    }

    @Test
    void ioctlNumbersMatchTheKernelHeaders() {
        assertThat(KvmIoctls.KVM_GET_API_VERSION).isEqualTo(0xae00L);
        assertThat(KvmIoctls.KVM_GET_SUPPORTED_CPUID).isEqualTo(0xc008ae05L);
        assertThat(KvmIoctls.KVM_GET_MSR_INDEX_LIST).isEqualTo(0xc004ae02L);
        assertThat(KvmIoctls.KVM_SET_USER_MEMORY_REGION).isEqualTo(0x4020ae46L);
        assertThat(KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR).isEqualTo(0x4008ae48L);
        assertThat(KvmIoctls.KVM_IRQ_LINE).isEqualTo(0x4008ae61L);
        assertThat(KvmIoctls.KVM_SET_GSI_ROUTING).isEqualTo(0x4008ae6aL);
        assertThat(KvmIoctls.KVM_IRQFD).isEqualTo(0x4020ae76L);
        assertThat(KvmIoctls.KVM_CREATE_PIT2).isEqualTo(0x4040ae77L);
        assertThat(KvmIoctls.KVM_IOEVENTFD).isEqualTo(0x4040ae79L);
        assertThat(KvmIoctls.KVM_RUN).isEqualTo(0xae80L);
        assertThat(KvmIoctls.KVM_GET_REGS).isEqualTo(0x8090ae81L);
        assertThat(KvmIoctls.KVM_SET_SREGS).isEqualTo(0x4138ae84L);
        assertThat(KvmIoctls.KVM_GET_MSRS).isEqualTo(0xc008ae88L);
        assertThat(KvmIoctls.KVM_SET_SIGNAL_MASK).isEqualTo(0x4004ae8bL);
        assertThat(KvmIoctls.KVM_GET_FPU).isEqualTo(0x81a0ae8cL);
        assertThat(KvmIoctls.KVM_SET_LAPIC).isEqualTo(0x4400ae8fL);
        assertThat(KvmIoctls.KVM_SET_CPUID2).isEqualTo(0x4008ae90L);
        assertThat(KvmIoctls.KVM_GET_MP_STATE).isEqualTo(0x8004ae98L);
        assertThat(KvmIoctls.KVM_ENABLE_CAP).isEqualTo(0x4068aea3L);
        assertThat(KvmIoctls.KVM_GET_TSC_KHZ).isEqualTo(0xaea3L);
    }
}
