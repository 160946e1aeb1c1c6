package io.qingtian.hypervisor.virtio;

/**
 * A virtqueue as the driver configured it through the transport: its size, the
 * guest-physical addresses of the descriptor table, driver (avail) and device (used)
 * areas, and the MSI-X vector it interrupts on (0xffff = none).
 */
public record QueueConfig(int index, int size, long descTable, long driverArea, long deviceArea, int msixVector) {
    public static final int NO_VECTOR = 0xffff;
}
