package io.qingtian.kvm;

/**
 * One struct kvm_irq_routing_entry for KVM_SET_GSI_ROUTING: a GSI delivered to an irqchip
 * pin, or as an MSI message.
 */
public sealed interface IrqRoute {
    int KVM_IRQ_ROUTING_IRQCHIP = 1;
    int KVM_IRQ_ROUTING_MSI = 2;
    /** KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC. */
    int PIC_MASTER = 0;
    int PIC_SLAVE = 1;
    int IOAPIC = 2;

    int gsi();

    /** GSI to pin {@code pin} of irqchip {@code chip}. */
    record Irqchip(int gsi, int chip, int pin) implements IrqRoute {}

    /** GSI as an MSI write of {@code data} to {@code address}. */
    record Msi(int gsi, long address, int data) implements IrqRoute {}
}
