package io.qingtian.card.instance;

import io.qingtian.trust.CardTrust;

/** The card's mutable record of one instance; guarded by the {@link InstanceManager}'s lock. */
final class Instance {
    final InstanceSpec spec;
    final int slot;
    final ConsoleLog console;
    InstanceState state = InstanceState.STOPPED;
    Process process;
    Cgroup cgroup;
    ExitReason lastExit;
    boolean stopRequested;
    int restarts;
    int consecutiveFailures;
    boolean deleted;
    CardTrust.InstanceMeasurement measurement;
    boolean secureBoot;

    Instance(InstanceSpec spec, int slot, ConsoleLog console) {
        this.spec = spec;
        this.slot = slot;
        this.console = console;
    }
}
