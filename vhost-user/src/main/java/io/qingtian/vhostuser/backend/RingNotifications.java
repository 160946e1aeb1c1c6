package io.qingtian.vhostuser.backend;

import io.qingtian.sys.EventFd;
import io.qingtian.virtio.queue.SplitQueue;

/**
 * Notification suppression in both directions for one started ring (virtio 1.2 §2.7.7,
 * §2.7.10). Kicks (driver to device): while the device is busy with a ring, or never wants
 * kicks at all (a receive ring it pops when data arrives), the driver should not write the
 * kick eventfd — a system call per burst on its side and a wake-up on ours. With
 * VIRTIO_RING_F_EVENT_IDX that happens by leaving avail_event behind (the driver kicks only
 * when it passes it); without, by VIRTQ_USED_F_NO_NOTIFY in the used ring's flags: both in
 * {@link SplitQueue}, next to the interrupt side. Calls
 * (device to driver): one call eventfd write per batch of used elements, and only when the
 * driver asked for it ({@link SplitQueue#needsNotification}).
 *
 * <p>Owned by the one thread that serves the ring at a time.
 */
final class RingNotifications {
    private final SplitQueue queue;
    private final int callFd;
    private final EventFd events = new EventFd();
    /** Where in-flight requests are recorded, or null (no inflight tracking). */
    private final InflightQueue inflight;

    RingNotifications(SplitQueue queue, int callFd) {
        this(queue, callFd, null);
    }

    RingNotifications(SplitQueue queue, int callFd, InflightQueue inflight) {
        this.queue = queue;
        this.callFd = callFd;
        this.inflight = inflight;
    }

    /** A used element for {@code head} (written with {@link SplitQueue#addUsed}) joins the inflight batch. */
    void used(int head) {
        if (inflight != null) {
            inflight.used(head);
        }
    }

    /** Asks the driver not to kick: the device is looking at the ring anyway ({@link SplitQueue#disableNotification}). */
    void suppressKicks() {
        queue.disableNotification();
    }

    /**
     * Asks the driver to kick for the next chain; returns true when chains arrived in the
     * meantime (then the caller must serve them instead of sleeping, or it would miss them).
     */
    boolean allowKicks() {
        return queue.enableNotification();
    }

    /** Publishes the used elements written so far and signals the call eventfd if the driver wants it. */
    void publish() {
        queue.publishUsed();
        if (inflight != null) {
            // After the used index store (vhost-user.rst: flags cleared, then used_idx set).
            inflight.published(queue.nextUsed());
        }
        if (queue.needsNotification() && callFd >= 0) {
            events.signal(callFd);
        }
    }
}
