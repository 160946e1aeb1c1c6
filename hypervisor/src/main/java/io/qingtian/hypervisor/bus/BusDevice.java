package io.qingtian.hypervisor.bus;

/**
 * A device reachable through port I/O or MMIO. The vCPU loop resolves the exit's address
 * to a device and an offset inside the device's range, then calls these methods with
 * primitives only, so dispatch allocates nothing.
 *
 * <p>Devices never see KVM. {@code size} is 1, 2, 4 or 8 bytes; values are little endian
 * in the low bits of {@code value}. A device must tolerate any offset and size inside its
 * range (a hostile guest may use odd widths) and must not throw.
 */
public interface BusDevice {
    /** Reads {@code size} bytes at {@code offset} in this device's range. */
    long read(long offset, int size);

    /** Writes the low {@code size} bytes of {@code value} at {@code offset}. */
    void write(long offset, int size, long value);
}
