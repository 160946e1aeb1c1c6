package io.qingtian.vhostuser.backend;

/**
 * What a back-end reports about the protocol as it happens, for whoever wants to know that
 * a feature was really used (tests, the card's status): so far only inflight tracking.
 * Called on the connection's thread; must not block.
 */
public interface BackendEvents {
    BackendEvents NONE = new BackendEvents() {};

    /** The front-end asked for an inflight region (GET_INFLIGHT_FD). */
    default void inflightRequested(int numQueues, int queueSize) {}

    /** The front-end handed an inflight region over (SET_INFLIGHT_FD), accepted. */
    default void inflightSet(int numQueues, int queueSize) {}

    /** Ring {@code queue} started with {@code count} requests of a previous back-end to execute again. */
    default void resubmitting(int queue, int count) {}
}
