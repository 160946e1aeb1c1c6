package io.qingtian.hypervisor.vhostuser;

/**
 * What a vhost-user device needs from KVM to keep this process off the I/O path: a queue
 * notification (the guest's MMIO write to the notify register) signals the card's kick
 * eventfd inside KVM (KVM_IOEVENTFD), and the card's call eventfd injects the queue's MSI
 * inside KVM (KVM_IRQFD on the vector's GSI). An interface so the device logic can be
 * tested against a real back-end without a VM.
 */
public interface DataPath {
    void registerKick(int eventFd, long notifyAddress);

    void unregisterKick(int eventFd, long notifyAddress);

    void registerCall(int eventFd, int gsi);

    void unregisterCall(int eventFd, int gsi);
}
