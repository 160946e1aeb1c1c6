package io.qingtian.network.virtionet;

/**
 * The receive queue as the device drives it: the device (not a kick) decides when to pop a
 * buffer, because frames arrive from the switch at any time. Mirrors the virtio module's
 * SplitQueue (pop/addUsed/publishUsed/needsNotification/setNextAvail) plus the call eventfd.
 */
public interface RxRing {
    /** Pops the next available chain, or returns null if the driver has posted none. */
    NetChain pop();

    /** Gives back the last {@code n} popped chains unused (they stay available). */
    void rewind(int n);

    void addUsed(int head, int writtenBytes);

    void publishUsed();

    /** Signals the driver if it wants an interrupt for what was published. */
    void notifyIfNeeded();
}
