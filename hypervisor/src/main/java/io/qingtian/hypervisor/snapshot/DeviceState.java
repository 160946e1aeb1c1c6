package io.qingtian.hypervisor.snapshot;

import java.util.List;

/**
 * The saved state of one device, as Firecracker splits its device state per device
 * (device_manager/persist.rs) and Cloud Hypervisor has each device implement Snapshottable:
 * every device contributes one versioned record, and a reader that does not know a record's
 * kind or version refuses it instead of guessing.
 *
 * <p>Encoding of a record (the blob of one entry in the snapshot's {@code DEVS} section):
 * {@code u16 kind, u16 version, body}, where the body is the record's fields in declaration
 * order as written by {@link StateWriter}. {@link #decode} is strict: an unknown kind or
 * version, a short or over-long body, or a field outside its range is a
 * {@link SnapshotException}, never another exception.
 */
public sealed interface DeviceState permits SerialState, RtcState, I8042State, AcpiPmState, VirtioPciState {
    /** The record kinds; the numbers are part of the file format. */
    int KIND_SERIAL = 1;
    int KIND_RTC = 2;
    int KIND_I8042 = 3;
    int KIND_ACPI_PM = 4;
    int KIND_VIRTIO_PCI = 5;

    int kind();

    /** The body's format version (each kind versions on its own). */
    int version();

    void encodeBody(StateWriter w);

    /** The record as it goes into the snapshot file. */
    default byte[] encode() {
        StateWriter w = new StateWriter().u16(kind()).u16(version());
        encodeBody(w);
        return w.toByteArray();
    }

    /** Decodes the blob of entry {@code name}; every problem is a {@link SnapshotException} naming it. */
    static DeviceState decode(String name, byte[] blob) {
        StateReader r = new StateReader(name, blob);
        int kind = r.u16("kind");
        int version = r.u16("version");
        DeviceState s;
        try {
            s = switch (kind) {
                case KIND_SERIAL -> SerialState.decodeBody(r, version);
                case KIND_RTC -> RtcState.decodeBody(r, version);
                case KIND_I8042 -> I8042State.decodeBody(r, version);
                case KIND_ACPI_PM -> AcpiPmState.decodeBody(r, version);
                case KIND_VIRTIO_PCI -> VirtioPciState.decodeBody(r, version);
                default -> throw r.bad("unknown device kind " + kind + " (written by a newer hypervisor?)");
            };
        } catch (IllegalArgumentException e) {
            throw r.bad(e.getMessage()); // a record's own range checks
        }
        r.end();
        return s;
    }

    /** Refuses a version this reader does not know. */
    static void requireVersion(StateReader r, String kind, int version, List<Integer> known) {
        if (!known.contains(version)) {
            throw r.bad(kind + " state version " + version + " is not supported (this hypervisor reads " + known + ")");
        }
    }

    /** Range check used by the records' compact constructors. */
    static int check(String field, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(field + " = " + value + " is outside " + min + ".." + max);
        }
        return value;
    }
}
