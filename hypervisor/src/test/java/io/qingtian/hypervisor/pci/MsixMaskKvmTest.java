package io.qingtian.hypervisor.pci;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.sys.Poll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Masking an MSI-X vector on this host's KVM: an outside eventfd (the card's call eventfd)
 * bound to the vector is consumed by KVM only while the vector may fire; while it is masked
 * the signal stays in the eventfd, shows as the PBA bit, and goes to KVM on unmask.
 *
 * <p>"Consumed by KVM" is observable from here: an assigned irqfd reads the eventfd's counter
 * in its wake-up (virt/kvm/eventfd.c irqfd_wakeup), so the fd is no longer readable.
 */
@Tag("kvm")
class MsixMaskKvmTest {
    private static final long MSI_ADDRESS = 0xfee0_0000L;

    private static boolean readable(int fd) {
        return Poll.waitReadable(new int[] {fd}, 0) == 0;
    }

    @Test
    void maskedVectorHoldsTheIrqfdSignalInThePbaAndUnmaskHandsItToKvm() {
        int call = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        EventFd ev = new EventFd();
        try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVm()) {
            vm.createIrqchip();
            try (KvmVcpu cpu = vm.createVcpu(0); PciInterrupts irq = new PciInterrupts(vm)) {
                irq.install();
                PciInterrupts.Vectors vectors = irq.allocate("dev", 2);
                MsixTable table = new MsixTable(2, vectors);
                irq.attachIrqfd(call, vectors.gsi(1));
                table.controlWritten(MsixTable.CONTROL_ENABLE);

                // Entries start masked: the signal is not KVM's, it is the PBA's.
                ev.signal(call);
                assertThat(readable(call)).as("KVM did not take the signal of a masked vector").isTrue();
                assertThat(table.readPba(0, 8)).isEqualTo(0b10);

                // Unmask (message + vector control): KVM takes the pending signal, the bit clears.
                table.writeTable(16, 8, MSI_ADDRESS);
                table.writeTable(24, 4, 0x41);
                assertThat(readable(call)).isTrue(); // still masked while the message is written
                table.writeTable(28, 4, 0);
                assertThat(readable(call)).as("pending signal handed to KVM on unmask").isFalse();
                assertThat(table.readPba(0, 8)).isZero();

                // Unmasked: each signal goes straight to KVM.
                ev.signal(call);
                assertThat(readable(call)).isFalse();

                // The function mask holds it back too; clearing the mask releases it.
                table.controlWritten(MsixTable.CONTROL_ENABLE | MsixTable.CONTROL_FUNCTION_MASK);
                ev.signal(call);
                assertThat(readable(call)).isTrue();
                assertThat(table.readPba(0, 4)).isEqualTo(0b10);
                table.controlWritten(MsixTable.CONTROL_ENABLE);
                assertThat(readable(call)).isFalse();

                // Detached: KVM no longer reads it, whatever the mask.
                irq.detachIrqfd(call, vectors.gsi(1));
                ev.signal(call);
                assertThat(readable(call)).isTrue();
                assertThat(table.readPba(0, 8)).as("a detached eventfd is not the vector's").isZero();
            }
        } finally {
            Libc.closeQuietly(call);
        }
    }
}
