package io.qingtian.hypervisor.vhostuser;

import java.util.List;

/**
 * The PCI devices of a VM: vhost-user disks and NICs (served by the card) and whether the
 * in-process virtio-rng is present. Slots are given in this order: disks, NICs, rng.
 */
public record PciDevicesConfig(List<VhostUserDeviceSpec> disks, List<VhostUserDeviceSpec> nets, boolean rng) {
    public PciDevicesConfig {
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
        if (disks.size() + nets.size() + (rng ? 1 : 0) > 31) {
            throw new io.qingtian.sys.UserError("at most 31 PCI devices (bus 0 has 31 free slots)");
        }
    }

    /** No disks or NICs, virtio-rng on. */
    public static PciDevicesConfig defaults() {
        return new PciDevicesConfig(List.of(), List.of(), true);
    }
}
