package io.qingtian.hypervisor.vhostuser;

import io.qingtian.hypervisor.pci.PciInterrupts;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.Errno;
import io.qingtian.sys.LinuxException;

/**
 * {@link DataPath} on a KVM VM. The notify write is 16 bits wide (Linux's vp_notify does
 * iowrite16 of the queue index, virtio 1.2 §4.1.5.2); the ioeventfd is registered for any
 * access length where KVM allows it (KVM_CAP_IOEVENTFD_ANY_LENGTH), else for 2 bytes.
 * Call eventfds go through {@link PciInterrupts#attachIrqfd}, which keeps them out of KVM
 * while their MSI-X vector is masked (the PBA shows them pending instead).
 */
public final class KvmDataPath implements DataPath {
    private final KvmVm vm;
    private final PciInterrupts interrupts;
    private volatile int kickLength = 0;

    /** Kicks only (call eventfds bind straight to their GSI: no MSI-X vectors known here). */
    public KvmDataPath(KvmVm vm) {
        this(vm, new PciInterrupts(vm));
    }

    public KvmDataPath(KvmVm vm, PciInterrupts interrupts) {
        this.vm = vm;
        this.interrupts = interrupts;
    }

    @Override
    public void registerKick(int eventFd, long notifyAddress) {
        try {
            vm.registerIoeventfd(eventFd, notifyAddress, kickLength, false, null);
        } catch (LinuxException e) {
            if (kickLength != 0 || e.errno() != Errno.EINVAL) {
                throw e;
            }
            kickLength = 2;
            vm.registerIoeventfd(eventFd, notifyAddress, kickLength, false, null);
        }
    }

    @Override
    public void unregisterKick(int eventFd, long notifyAddress) {
        vm.unregisterIoeventfd(eventFd, notifyAddress, kickLength, false, null);
    }

    @Override
    public void registerCall(int eventFd, int gsi) {
        interrupts.attachIrqfd(eventFd, gsi);
    }

    @Override
    public void unregisterCall(int eventFd, int gsi) {
        interrupts.detachIrqfd(eventFd, gsi);
    }
}
