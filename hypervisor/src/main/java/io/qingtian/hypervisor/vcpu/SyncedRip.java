package io.qingtian.hypervisor.vcpu;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.qingtian.kvm.KvmRun;
import java.lang.foreign.MemorySegment;

/**
 * The guest RIP at every exit without an ioctl: KVM's synced registers (api.rst, "kvm_valid_regs"
 * / KVM_CAP_SYNC_REGS, x86 since Linux 4.16). With {@code kvm_valid_regs = KVM_SYNC_X86_REGS}
 * KVM copies struct kvm_regs into {@code kvm_run.s.regs} when KVM_RUN returns; nothing flows the
 * other way as long as {@code kvm_dirty_regs} stays 0, which this class never changes.
 *
 * <p>Layout of struct kvm_run after its header (include/uapi/linux/kvm.h): the exit union padded
 * to 256 bytes, then {@code __u64 kvm_valid_regs}, {@code __u64 kvm_dirty_regs}, then
 * {@code s.regs} (struct kvm_sync_regs, whose first member is struct kvm_regs: 16 GPRs, rip, rflags).
 */
final class SyncedRip {
    /** KVM_SYNC_X86_REGS. */
    static final long KVM_SYNC_X86_REGS = 1;
    static final long VALID_REGS = KvmRun.UNION + 256;
    static final long DIRTY_REGS = VALID_REGS + 8;
    static final long SYNC_REGS = DIRTY_REGS + 8;
    static final long RIP = SYNC_REGS + 16 * 8;

    private final MemorySegment run;
    private boolean enabled;

    SyncedRip(KvmRun run) {
        this.run = run.segment();
    }

    /** Asks KVM to sync the registers out on every exit (takes effect at the next KVM_RUN). */
    void enable() {
        run.set(JAVA_LONG, DIRTY_REGS, 0);
        run.set(JAVA_LONG, VALID_REGS, KVM_SYNC_X86_REGS);
        enabled = true;
    }

    /**
     * Stops the syncing: for a host whose KVM refuses the field (KVM_RUN fails with EINVAL on any
     * unknown bit). Returns whether it was on.
     */
    boolean disable() {
        boolean was = enabled;
        run.set(JAVA_LONG, VALID_REGS, 0);
        enabled = false;
        return was;
    }

    boolean enabled() {
        return enabled;
    }

    /** The guest RIP at the last exit, or {@link ExitRing#NO_RIP} when syncing is off. */
    long rip() {
        return enabled ? run.get(JAVA_LONG, RIP) : ExitRing.NO_RIP;
    }
}
