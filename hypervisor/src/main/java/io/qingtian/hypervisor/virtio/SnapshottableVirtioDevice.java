package io.qingtian.hypervisor.virtio;

import java.util.List;

/**
 * A virtio device whose running queues can be saved and restored (issue 8; Cloud
 * Hypervisor's Pausable + Snapshottable for virtio devices). The transport saves and
 * restores its own registers; the device adds where each ring stands.
 *
 * <p>Sequence at a snapshot (VM paused): {@link #saveRings} stops the rings and reports their
 * positions; after the files are written, {@link #resumeRings} starts them again at the same
 * positions so the source VM can continue. At restore, {@link #activateRestored} replaces the
 * driver-initiated activation: the rings start where the snapshot left them, not at 0.
 */
public interface SnapshottableVirtioDevice extends VirtioDevice {
    /**
     * Stops the running queues and returns, per queue index ({@code queueCount} entries), the
     * next available index the device will consume; -1 for a queue that does not run.
     * Requests the device had taken are completed first (bounded wait), so nothing is in flight
     * in the saved memory.
     *
     * @param running the queues the driver enabled (their rings, to watch completion)
     */
    int[] saveRings(int queueCount, List<QueueConfig> running);

    /** Starts the queues stopped by {@link #saveRings} again (the source VM resumes). */
    void resumeRings();

    /**
     * Activates the device with the restored features and queues, each ring starting at
     * {@code bases[index]}. Returns false if it cannot run (the transport then sets
     * DEVICE_NEEDS_RESET, as after a failed activation).
     */
    boolean activateRestored(long features, List<QueueConfig> queues, VirtioInterrupt interrupt, int[] bases);
}
