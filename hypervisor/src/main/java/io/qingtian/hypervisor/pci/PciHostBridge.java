package io.qingtian.hypervisor.pci;

/**
 * Device 00:00.0, the host bridge the guest expects at the root of segment 0. It has no
 * BARs; it exists so that bus enumeration finds a bridge, as on any PC. IDs as Cloud
 * Hypervisor uses (Intel vendor, a virtual host bridge device id).
 */
public final class PciHostBridge extends PciFunction {
    static final int VENDOR_INTEL = 0x8086;
    static final int DEVICE_VIRT_HOST_BRIDGE = 0x0d57;
    static final int CLASS_HOST_BRIDGE = 0x060000;

    public PciHostBridge() {
        super(new PciConfigSpace(VENDOR_INTEL, DEVICE_VIRT_HOST_BRIDGE, CLASS_HOST_BRIDGE, 0, 0, 0));
    }

    @Override
    public long barRead(PciBar bar, long offset, int size) {
        return 0;
    }

    @Override
    public void barWrite(PciBar bar, long offset, int size, long value) {
    }
}
