package io.qingtian.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The snapshot ioctls' struct sizes and request numbers against the values gcc computes from
 * {@code <linux/kvm.h>} on x86_64 (Debian's linux-libc-dev, Linux 6.1), as {@link KvmLayoutsTest}
 * does for the others: a wrong size would be a wrong request number, which KVM refuses.
 */
class KvmStateIoctlsTest {
    @Test
    void structSizesMatchTheKernelHeaders() {
        assertThat(KvmStateIoctls.CLOCK_SIZE).as("kvm_clock_data").isEqualTo(0x30);
        assertThat(KvmStateIoctls.XSAVE_SIZE).as("kvm_xsave").isEqualTo(0x1000);
        assertThat(KvmStateIoctls.XCRS_SIZE).as("kvm_xcrs").isEqualTo(0x188);
        assertThat(KvmStateIoctls.VCPU_EVENTS_SIZE).as("kvm_vcpu_events").isEqualTo(0x40);
        assertThat(KvmStateIoctls.DEBUGREGS_SIZE).as("kvm_debugregs").isEqualTo(0x80);
        assertThat(KvmStateIoctls.IRQCHIP_SIZE).as("kvm_irqchip").isEqualTo(0x208);
        assertThat(KvmStateIoctls.PIT2_SIZE).as("kvm_pit_state2").isEqualTo(0x70);
        assertThat(KvmStateIoctls.KVM_CLOCK_TSC_STABLE).isEqualTo(2);
    }

    @Test
    void requestNumbersMatchTheKernelHeaders() {
        assertThat(KvmStateIoctls.KVM_KVMCLOCK_CTRL).isEqualTo(0xaeadL);
        assertThat(KvmStateIoctls.KVM_GET_CLOCK).isEqualTo(0x8030ae7cL);
        assertThat(KvmStateIoctls.KVM_SET_CLOCK).isEqualTo(0x4030ae7bL);
        assertThat(KvmStateIoctls.KVM_GET_IRQCHIP).isEqualTo(0xc208ae62L);
        assertThat(KvmStateIoctls.KVM_SET_IRQCHIP).isEqualTo(0x8208ae63L);
        assertThat(KvmStateIoctls.KVM_GET_PIT2).isEqualTo(0x8070ae9fL);
        assertThat(KvmStateIoctls.KVM_SET_PIT2).isEqualTo(0x4070aea0L);
        assertThat(KvmStateIoctls.KVM_GET_VCPU_EVENTS).isEqualTo(0x8040ae9fL);
        assertThat(KvmStateIoctls.KVM_SET_VCPU_EVENTS).isEqualTo(0x4040aea0L);
        assertThat(KvmStateIoctls.KVM_GET_DEBUGREGS).isEqualTo(0x8080aea1L);
        assertThat(KvmStateIoctls.KVM_SET_DEBUGREGS).isEqualTo(0x4080aea2L);
        assertThat(KvmStateIoctls.KVM_SET_TSC_KHZ).isEqualTo(0xaea2L);
        assertThat(KvmStateIoctls.KVM_GET_XSAVE).isEqualTo(0x9000aea4L);
        assertThat(KvmStateIoctls.KVM_SET_XSAVE).isEqualTo(0x5000aea5L);
        assertThat(KvmStateIoctls.KVM_GET_XCRS).isEqualTo(0x8188aea6L);
        assertThat(KvmStateIoctls.KVM_SET_XCRS).isEqualTo(0x4188aea7L);
    }
}
