package io.qingtian.hypervisor.snapshot;

import io.qingtian.hypervisor.devices.AcpiPm;
import io.qingtian.hypervisor.devices.CmosRtc;
import io.qingtian.hypervisor.devices.I8042;
import io.qingtian.hypervisor.devices.Serial16550;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The devices of a VM built by {@code VmBuilder} whose state a snapshot carries, under the
 * entry names of the snapshot's {@code DEVS} section: {@code com1}, {@code i8042},
 * {@code rtc}, {@code acpi_pm}, and {@code pci.N} for the N-th virtio-pci function in slot
 * order (disks, NICs, rng: the order of {@code PciDevicesConfig}).
 */
public record PlatformDevices(Serial16550 serial, I8042 i8042, CmosRtc rtc, AcpiPm pm, List<VirtioPciDevice> pci) {
    public static final String COM1 = "com1";
    public static final String I8042_NAME = "i8042";
    public static final String RTC = "rtc";
    public static final String ACPI_PM = "acpi_pm";

    public PlatformDevices {
        pci = List.copyOf(pci);
    }

    public static String pciName(int index) {
        return "pci." + index;
    }

    /**
     * Every device's state, encoded, in a fixed order. Running virtio rings are stopped
     * (vhost-user: GET_VRING_BASE); call {@link #resumeAfterSnapshot} once the files are written.
     */
    Map<String, byte[]> save() {
        Map<String, byte[]> out = new LinkedHashMap<>();
        out.put(COM1, serial.saveState().encode());
        out.put(I8042_NAME, i8042.saveState().encode());
        out.put(RTC, rtc.saveState().encode());
        out.put(ACPI_PM, pm.saveState().encode());
        for (int i = 0; i < pci.size(); i++) {
            out.put(pciName(i), pci.get(i).saveState().encode());
        }
        return out;
    }

    /** Restarts what {@link #save} stopped; failures are the devices' own (they flag DEVICE_NEEDS_RESET). */
    void resumeAfterSnapshot() {
        for (VirtioPciDevice d : pci) {
            try {
                d.resumeAfterSnapshot();
            } catch (RuntimeException ignored) {
                // the device logs and signals the guest itself
            }
        }
    }

    /** Puts checked, decoded states back (the legacy devices first, then PCI in slot order). */
    void restore(Map<String, DeviceState> states) {
        List<String> missing = new ArrayList<>();
        for (String n : List.of(COM1, I8042_NAME, RTC, ACPI_PM)) {
            if (!states.containsKey(n)) {
                missing.add(n);
            }
        }
        for (int i = 0; i < pci.size(); i++) {
            if (!states.containsKey(pciName(i))) {
                missing.add(pciName(i));
            }
        }
        if (!missing.isEmpty()) {
            throw new SnapshotException("snapshot has no state for " + missing);
        }
        serial.restoreState(as(states, COM1, SerialState.class));
        i8042.restoreState(as(states, I8042_NAME, I8042State.class));
        rtc.restoreState(as(states, RTC, RtcState.class));
        pm.restoreState(as(states, ACPI_PM, AcpiPmState.class));
        for (int i = 0; i < pci.size(); i++) {
            pci.get(i).restoreState(as(states, pciName(i), VirtioPciState.class));
        }
    }

    /** The decoded state of entry {@code name}, which must be of the given kind. */
    static <T extends DeviceState> T as(Map<String, DeviceState> states, String name, Class<T> kind) {
        DeviceState s = states.get(name);
        if (!kind.isInstance(s)) {
            throw new SnapshotException("corrupt snapshot: device state '" + name + "' is a "
                    + s.getClass().getSimpleName() + ", expected " + kind.getSimpleName());
        }
        return kind.cast(s);
    }
}
