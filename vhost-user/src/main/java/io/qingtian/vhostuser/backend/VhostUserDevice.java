package io.qingtian.vhostuser.backend;

import io.qingtian.virtio.queue.DescriptorChain;

/**
 * The device behind a vhost-user back-end: what it offers and how it executes one chain.
 * The back-end owns the protocol, memory and rings; the device only sees validated chains.
 *
 * <p>Two ways a ring is served. By default a worker thread pops chains when the driver
 * kicks and has {@link #process} execute each at once (block requests, a network transmit
 * queue). A device that fills buffers when it has data rather than when the driver asks (a
 * network receive queue: frames arrive from the switch) says so with {@link #drivesQueue}
 * and gets the started ring as a {@link DeviceQueue} to pop from itself.
 */
public interface VhostUserDevice {
    /** Queues the device has (GET_QUEUE_NUM; the front-end may use fewer). */
    int numQueues();

    /** virtio device feature bits offered (VHOST_USER_F_PROTOCOL_FEATURES is added by the back-end). */
    long features();

    /**
     * Config space bytes [offset, offset+size) (GET_CONFIG), zero beyond the device's
     * layout; null when the range is invalid.
     */
    byte[] readConfig(int offset, int size);

    /** SET_CONFIG; returns false when the device refuses the write. */
    boolean writeConfig(int offset, byte[] data);

    /**
     * Executes one popped chain on queue {@code queue} and returns the used length. Called
     * by that queue's worker only; must not throw (a failed request is a status value).
     */
    int process(int queue, DescriptorChain chain);

    /**
     * Whether this chain may run on a helper thread while the worker goes on popping (only
     * asked when more chains are waiting). Default: large transfers only, since small ones
     * served from the page cache are cheaper inline than handed off.
     */
    default boolean runConcurrently(DescriptorChain chain) {
        return chain.totalBytes() >= 16 * 1024;
    }

    /**
     * SET_FEATURES: the feature bits the driver accepted (a subset of {@link #features()} plus
     * VHOST_USER_F_PROTOCOL_FEATURES). Rings restart after it, so the device sees the new
     * value before any chain negotiated under it (e.g. the virtio-net header size).
     */
    default void featuresAcked(long features) {}

    /** Whether the device pops queue {@code queue} itself (see the class comment). */
    default boolean drivesQueue(int queue) {
        return false;
    }

    /** A queue the device drives was started: pop from {@code ring} until {@link #queueStopped}. */
    default void queueStarted(int queue, DeviceQueue ring) {}

    /**
     * The queue stops (GET_VRING_BASE, a new memory table, disconnect). When this returns the
     * device must no longer touch the ring, and must have published or given back (rewound)
     * everything it popped: the next avail index is read right after.
     */
    default void queueStopped(int queue) {}

    /**
     * Asked by a worker before it processes a popped chain: how many nanoseconds it should
     * hold the chain (and with it the ring, so the driver backs off) before processing it;
     * 0 means now. A rate limit shapes this way instead of dropping. Asked again after the
     * wait; a device that answers 0 has committed to the chain (e.g. taken its tokens).
     */
    default long holdNanos(int queue, DescriptorChain chain) {
        return 0;
    }

    /**
     * How many chains of {@code queue}, processed inline one after the other, the worker may
     * complete together (one used index update, at most one call eventfd write). 1, the
     * default, completes each at once: right for requests that may take long (a block read
     * from a slow disk, a receive chain held until data arrives). A queue whose chains are
     * processed in well under a microsecond (a network transmit queue) gains by batching; the
     * worker completes a batch early when the ring runs dry, before it waits or sleeps.
     */
    default int completionBatch(int queue) {
        return 1;
    }

    /**
     * The worker of {@code queue} finished a batch of chains and is about to publish their
     * used elements (and perhaps sleep): a device that deferred work for the batch (used
     * elements written into other rings) completes it now. Called on the worker's thread.
     */
    default void batchDone(int queue) {}

    /**
     * Whether the back-end offers inflight I/O tracking (PROTOCOL_F_INFLIGHT_SHMFD) for this
     * device: requests in flight when the back-end dies are executed again by the next one.
     * Only for devices whose requests may run twice with the same outcome (block reads and
     * writes of the same data); queues the device pops itself are never tracked.
     */
    default boolean tracksInflight() {
        return false;
    }
}
