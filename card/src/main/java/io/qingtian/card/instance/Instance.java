package io.qingtian.card.instance;

import io.qingtian.trust.CardTrust;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The card's mutable record of one instance. Fields are guarded by the {@link InstanceManager}'s
 * monitor (held only briefly); {@link #op} serializes the lifecycle operations that talk to the
 * hypervisor (launch, pause, resume, snapshot, restore), which may take seconds, so that the
 * monitor is never held across a request to a hypervisor.
 */
final class Instance {
    final InstanceSpec spec;
    final int slot;
    final ConsoleLog console;
    final ReentrantLock op = new ReentrantLock();
    InstanceState state = InstanceState.STOPPED;
    Process process;
    /** The running hypervisor's API (null without a process). */
    HypervisorApi api;
    Cgroup cgroup;
    ExitReason lastExit;
    /** Set when the hypervisor refused (or never answered) a setup request; the supervisor records it. */
    HypervisorApi.Fault setupFault;
    boolean stopRequested;
    int restarts;
    int consecutiveFailures;
    boolean deleted;
    CardTrust.InstanceMeasurement measurement;
    boolean secureBoot;
    /** The snapshot the running process was restored from, or null after a cold boot. */
    String restoredFrom;

    Instance(InstanceSpec spec, int slot, ConsoleLog console) {
        this.spec = spec;
        this.slot = slot;
        this.console = console;
    }
}
