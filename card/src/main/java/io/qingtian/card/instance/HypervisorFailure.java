package io.qingtian.card.instance;

/**
 * A hypervisor operation that failed on the hypervisor's side: its API refused a request
 * ({@link #refused()}: Firecracker's {@code fault_message} is in the message) or the process did
 * not come up or answer. The instance's state and {@code lastExit} say what became of it.
 */
public final class HypervisorFailure extends RuntimeException {
    private final boolean refused;

    public HypervisorFailure(String message, boolean refused) {
        super(message);
        this.refused = refused;
    }

    static HypervisorFailure of(String what, HypervisorApi.Fault f) {
        return new HypervisorFailure(what + ": " + f.getMessage(), f.status() / 100 == 4);
    }

    /** The hypervisor answered with a 4xx fault (bad input or wrong state as it saw it). */
    public boolean refused() {
        return refused;
    }
}
