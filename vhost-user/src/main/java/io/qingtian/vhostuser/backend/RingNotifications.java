package io.qingtian.vhostuser.backend;

import io.qingtian.sys.EventFd;
import io.qingtian.virtio.queue.SplitQueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Notification suppression in both directions for one started ring (virtio 1.2 §2.7.7,
 * §2.7.10). Kicks (driver to device): while the device is busy with a ring, or never wants
 * kicks at all (a receive ring it pops when data arrives), the driver should not write the
 * kick eventfd — a system call per burst on its side and a wake-up on ours. With
 * VIRTIO_RING_F_EVENT_IDX that happens by leaving avail_event behind (the driver kicks only
 * when it passes it); without, by VIRTQ_USED_F_NO_NOTIFY in the used ring's flags. Calls
 * (device to driver): one call eventfd write per batch of used elements, and only when the
 * driver asked for it ({@link SplitQueue#needsNotification}).
 *
 * <p>Owned by the one thread that serves the ring at a time.
 */
final class RingNotifications {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final SplitQueue queue;
    private final MemorySegment used;
    private final int callFd;
    private final EventFd events = new EventFd();

    /** @param used the used ring: its first field, flags, is written by the device only */
    RingNotifications(SplitQueue queue, MemorySegment used, int callFd) {
        this.queue = queue;
        this.used = used;
        this.callFd = callFd;
    }

    /** Asks the driver not to kick: the device is looking at the ring anyway. */
    void suppressKicks() {
        if (!queue.eventIdx()) {
            used.set(U16, 0, (short) SplitQueue.VIRTQ_USED_F_NO_NOTIFY);
        }
        // With EVENT_IDX avail_event simply stays where it was.
    }

    /**
     * Asks the driver to kick for the next chain; returns true when chains arrived in the
     * meantime (then the caller must serve them instead of sleeping, or it would miss them).
     */
    boolean allowKicks() {
        if (!queue.eventIdx()) {
            used.set(U16, 0, (short) 0);
        }
        return queue.enableNotification(); // avail_event with EVENT_IDX, then a full fence
    }

    /** Publishes the used elements written so far and signals the call eventfd if the driver wants it. */
    void publish() {
        queue.publishUsed();
        if (queue.needsNotification() && callFd >= 0) {
            events.signal(callFd);
        }
    }
}
