package io.qingtian.vhostuser.backend;

import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.SplitQueue;

/**
 * A started ring handed to a device that pops it itself ({@link VhostUserDevice#drivesQueue}):
 * the device takes a buffer when it has data for the driver, not when the driver kicks, so
 * the driver is asked never to kick this ring. Chains are validated by the same walker as
 * everywhere ({@link DescriptorChain}); a malformed one is still popped and must be returned
 * with length 0. Not thread-safe: the device serializes its calls (and stops making them when
 * {@link VhostUserDevice#queueStopped} returns).
 */
public final class DeviceQueue {
    private final SplitQueue queue;
    private final RingNotifications notifications;

    DeviceQueue(SplitQueue queue, RingNotifications notifications) {
        this.queue = queue;
        this.notifications = notifications;
        notifications.suppressKicks();
    }

    /** Entries in the ring (the longest possible chain). */
    public int size() {
        return queue.size();
    }

    /** Pops the next available chain into {@code chain}; false when none is available (or the ring broke). */
    public boolean pop(DescriptorChain chain) {
        return queue.pop(chain);
    }

    /** Why the driver broke this ring (a hostile avail index), or null while healthy. */
    public String broken() {
        return queue.broken();
    }

    /** Writes a used element; the driver sees it at the next {@link #publish}. */
    public void addUsed(int head, int writtenBytes) {
        queue.addUsed(head, writtenBytes);
    }

    /** Makes the used elements visible and signals the driver if it asked for an interrupt. */
    public void publish() {
        notifications.publish();
    }

    /** The next avail index the device will pop. */
    public int nextAvail() {
        return queue.nextAvail();
    }

    /**
     * Un-pops back to avail index {@code nextAvail} (chains popped for a frame that did not
     * fit stay available for the next one). Publishes what was used first.
     */
    public void rewindTo(int nextAvail) {
        publish();
        queue.setNextAvail(nextAvail);
    }
}
