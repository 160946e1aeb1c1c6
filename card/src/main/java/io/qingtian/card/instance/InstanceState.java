package io.qingtian.card.instance;

/** Lifecycle as the card sees it. */
public enum InstanceState {
    /** defined, no hypervisor process */
    STOPPED,
    /** a hypervisor process was started and is being configured over its API socket */
    STARTING,
    /** a hypervisor process is alive and its guest runs */
    RUNNING,
    /** the guest's vCPUs are stopped (PATCH /vm Paused); resume continues it */
    PAUSED,
    /** the supervisor waits out a restart backoff */
    RESTARTING,
    /** ended by itself (see the last exit) and not restarted */
    EXITED,
    /** ON_FAILURE gave up after too many consecutive failures */
    FAILED
}
