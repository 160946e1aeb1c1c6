package io.qingtian.hypervisor.vhostuser;

import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.queue.DriverQueue;

/**
 * What a guest's firmware and virtio-pci driver do to a device, for the tests that drive a
 * {@link VhostUserProxy} through its transport without a guest: BAR 0 accesses, MSI-X set-up,
 * and the driver's initialisation with queue 0 of 64 entries at fixed addresses.
 */
final class TransportDriver {
    private TransportDriver() {}

    /** Queue 0's descriptor table, available and used rings in guest memory. */
    static final long DESC = 0x10000, AVAIL = 0x11000, USED = 0x12000;

    static void common(VirtioPciDevice pci, int off, int size, long v) {
        pci.barWrite(pci.bar0(), off, size, v);
    }

    static long common(VirtioPciDevice pci, int off, int size) {
        return pci.barRead(pci.bar0(), off, size);
    }

    /** MSI-X on, every vector programmed (vector v → data 0x40 + v) and unmasked. */
    static void enableMsix(VirtioPciDevice pci) {
        PciConfigSpace c = pci.config();
        int p = c.get8(PciConfigSpace.CAPABILITIES_POINTER);
        while (c.get8(p) != MsixTable.CAP_ID) {
            p = c.get8(p + 1);
        }
        pci.configWrite(p + 2, 2, MsixTable.CONTROL_ENABLE);
        for (int v = 0; v < pci.msix().size(); v++) {
            long e = VirtioPciDevice.MSIX_TABLE + 16L * v;
            common(pci, (int) e, 4, 0xfee0_0000L);
            common(pci, (int) e + 8, 4, 0x40 + v);
            common(pci, (int) e + 12, 4, 0);
        }
    }

    /**
     * The driver's init sequence (virtio 1.2 §3.1.1): reset, ACKNOWLEDGE | DRIVER, {@code features},
     * FEATURES_OK, queue 0 (config on vector 0 and the queue on vector 1 when {@code msix}), DRIVER_OK.
     * Returns once DRIVER_OK is written (the device's activation included).
     */
    static DriverQueue init(VirtioPciDevice pci, GuestMemory memory, long features, boolean msix) throws GuestMemoryException {
        common(pci, 0x14, 1, 0);
        common(pci, 0x14, 1, 1 | 2);
        common(pci, 0x08, 4, 0);
        common(pci, 0x0c, 4, features & 0xffff_ffffL);
        common(pci, 0x08, 4, 1);
        common(pci, 0x0c, 4, features >>> 32);
        common(pci, 0x14, 1, 1 | 2 | 8);
        if (msix) {
            common(pci, 0x10, 2, 0);
        }
        DriverQueue q = new DriverQueue(memory, 64, DESC, AVAIL, USED, false);
        common(pci, 0x16, 2, 0);
        common(pci, 0x18, 2, 64);
        if (msix) {
            common(pci, 0x1a, 2, 1);
        }
        common(pci, 0x20, 8, DESC);
        common(pci, 0x28, 8, AVAIL);
        common(pci, 0x30, 8, USED);
        common(pci, 0x1c, 2, 1);
        common(pci, 0x14, 1, 1 | 2 | 8 | 4);
        return q;
    }
}
