package io.qingtian.hypervisor.pci;

/** An MSI message as the guest programmed it: write {@code data} to {@code address}. */
public record MsiMessage(long address, int data) {
}
