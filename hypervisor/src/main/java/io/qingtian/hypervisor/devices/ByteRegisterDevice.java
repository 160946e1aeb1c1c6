package io.qingtian.hypervisor.devices;

import io.qingtian.hypervisor.bus.BusDevice;

/**
 * Base for ISA devices whose registers are single bytes at consecutive ports (UART, RTC,
 * keyboard controller). A wider access is split into byte accesses at consecutive
 * offsets, as the ISA bus does for a 16- or 32-bit IN/OUT to an 8-bit device; bytes
 * beyond the device's ports read as 0xFF (nothing drives the bus) and writes to them are
 * dropped. Any offset and size is tolerated and nothing throws.
 *
 * <p>Each access runs under the device's monitor, so a multi-byte access is atomic with
 * respect to other threads (e.g. a host input thread) that also synchronize on the device.
 */
abstract class ByteRegisterDevice implements BusDevice {
    private final int registerCount;

    ByteRegisterDevice(int registerCount) {
        this.registerCount = registerCount;
    }

    /** Reads register {@code index} (0 <= index < registerCount); returns 0-255. Called with the lock held. */
    abstract int readRegister(int index);

    /** Writes register {@code index}; {@code value} is 0-255. Called with the lock held. */
    abstract void writeRegister(int index, int value);

    @Override
    public final synchronized long read(long offset, int size) {
        int n = Math.clamp(size, 0, 8);
        long result = 0;
        for (int i = 0; i < n; i++) {
            long reg = offset + i;
            int b = (reg >= 0 && reg < registerCount) ? readRegister((int) reg) & 0xFF : 0xFF;
            result |= (long) b << (8 * i);
        }
        return result;
    }

    @Override
    public final synchronized void write(long offset, int size, long value) {
        int n = Math.clamp(size, 0, 8);
        for (int i = 0; i < n; i++) {
            long reg = offset + i;
            if (reg >= 0 && reg < registerCount) {
                writeRegister((int) reg, (int) (value >>> (8 * i)) & 0xFF);
            }
        }
    }
}
