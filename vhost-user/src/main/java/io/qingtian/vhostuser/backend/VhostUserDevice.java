package io.qingtian.vhostuser.backend;

import io.qingtian.virtio.queue.DescriptorChain;

/**
 * The device behind a vhost-user back-end: what it offers and how it executes one chain.
 * The back-end owns the protocol, memory and rings; the device only sees validated chains.
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
}
