package io.qingtian.hypervisor.bus;

import io.qingtian.kvm.KvmVm;

/**
 * An {@link IrqLine} on a GSI of the in-kernel irqchip. For GSIs below 16, KVM_IRQ_LINE
 * drives both the PIC pin and the IOAPIC pin, so it works whichever the guest uses.
 */
public record KvmIrqLine(KvmVm vm, int gsi) implements IrqLine {
    @Override
    public void set(boolean asserted) {
        vm.irqLine(gsi, asserted);
    }
}
