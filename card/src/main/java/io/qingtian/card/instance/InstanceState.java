package io.qingtian.card.instance;

/** Lifecycle as the card sees it. */
public enum InstanceState {
    /** defined, no hypervisor process */
    STOPPED,
    /** a hypervisor process is alive */
    RUNNING,
    /** the supervisor waits out a restart backoff */
    RESTARTING,
    /** ended by itself (see the last exit) and not restarted */
    EXITED,
    /** ON_FAILURE gave up after too many consecutive failures */
    FAILED
}
