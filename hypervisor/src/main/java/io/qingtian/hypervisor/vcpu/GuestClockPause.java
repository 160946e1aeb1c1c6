package io.qingtian.hypervisor.vcpu;

import io.qingtian.kvm.KvmStateIoctls;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.sys.LinuxException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Tells a guest that uses kvm-clock that the host stopped its vCPUs (api.rst, KVM_KVMCLOCK_CTRL):
 * KVM sets PVCLOCK_GUEST_STOPPED in the vCPU's pvclock page at its next entry, and the guest's
 * soft-lockup and RCU-stall watchdogs take the gap for a host pause instead of a hang
 * (Linux kvm_check_and_clear_guest_paused). Without it a Linux guest resumed after a long pause
 * or restored from a snapshot can report "BUG: soft lockup" for the time it was stopped.
 *
 * <p>Called on every vCPU after a resume (by its own thread, as it leaves the park and before it
 * re-enters KVM_RUN: a vCPU ioctl waits for a running KVM_RUN to return) and after a restore
 * (before the vCPU threads start): Firecracker does the same at its pause and at the end of its
 * vCPU restore_state; the flag takes effect at the next entry either way.
 *
 * <p>EINVAL means the guest has not enabled kvm-clock (a tiny payload, early boot,
 * {@code no-kvmclock}); ENOTTY a KVM without the ioctl: both are normal and silent. Any other
 * failure is reported once per VM, never fatal: the guest runs on, at worst with a watchdog
 * warning.
 */
public final class GuestClockPause {
    private final AtomicBoolean reported = new AtomicBoolean();
    private final Consumer<String> log;

    /** @param log where the one report of an unexpected failure goes */
    public GuestClockPause(Consumer<String> log) {
        this.log = log;
    }

    /** Reports to standard error, with the hypervisor's "qt: " prefix. */
    public static GuestClockPause toStandardError() {
        return new GuestClockPause(line -> System.err.println("qt: " + line));
    }

    /**
     * Notifies {@code vcpu}'s kvm-clock; the vCPU must be outside KVM_RUN. Returns whether KVM
     * accepted it (false: the guest has no kvm-clock, or the call failed and was reported).
     */
    public boolean notifyStopped(KvmVcpu vcpu) {
        try {
            return KvmStateIoctls.kvmclockCtrl(vcpu);
        } catch (LinuxException e) {
            if (reported.compareAndSet(false, true)) {
                log.accept("vCPU " + vcpu.id() + ": " + e.getMessage() + " (the guest was not told it was paused;"
                        + " its soft-lockup watchdog may report the pause; reported once)");
            }
            return false;
        }
    }

    /** Whether a failure has been reported (tests). */
    public boolean reportedFailure() {
        return reported.get();
    }
}
