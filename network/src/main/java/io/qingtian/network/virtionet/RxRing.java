package io.qingtian.network.virtionet;

/**
 * The receive queue as the device drives it: the device (not a kick) decides when to pop a
 * buffer, because frames arrive from the switch at any time. Mirrors the virtio module's
 * SplitQueue (pop/addUsed/setNextAvail, publishUsed + needsNotification as one publish).
 */
public interface RxRing {
    /** Pops the next available chain, or returns null if the driver has posted none. */
    NetChain pop();

    /** Gives back the last {@code n} popped chains unused (they stay available). */
    void rewind(int n);

    void addUsed(int head, int writtenBytes);

    /** The frame's chains are all used ({@link #addUsed}): the next pop starts a new frame. */
    void endFrame();

    /** Makes the used elements visible to the driver and signals it if it wants an interrupt. */
    void publish();

    /**
     * The ring is being disconnected: buffers the device took ahead and no frame used go back
     * to the driver (or are returned empty), and what was used is published.
     */
    default void release() {
        publish();
    }
}
