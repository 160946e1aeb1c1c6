package io.qingtian.hypervisor.bus;

/**
 * An interrupt line into the guest's in-kernel irqchip (IOAPIC/PIC pin), as a device sees
 * it. Edge-triggered ISA devices call {@link #pulse()}; level-triggered devices call
 * {@link #set(boolean)}. Implementations use KVM_IRQ_LINE (or an irqfd).
 */
public interface IrqLine {
    void set(boolean asserted);

    default void pulse() {
        set(true);
        set(false);
    }
}
