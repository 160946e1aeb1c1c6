package io.qingtian.hypervisor.vcpu;

import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.kvm.KvmExit;
import io.qingtian.kvm.KvmRun;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.sys.Errno;
import io.qingtian.sys.NativeCall;
import io.qingtian.sys.Signals;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The run loop of one vCPU, on its own platform thread: KVM_RUN, read the exit from the
 * shared kvm_run page, dispatch port I/O and MMIO to the buses with primitives only, repeat.
 * The steady state allocates nothing.
 *
 * <h2>Stopping (the kick)</h2>
 * The thread blocks {@link #kickSignal()} for itself and hands KVM (KVM_SET_SIGNAL_MASK) a
 * mask without it, so the signal is deliverable only while the thread is inside KVM_RUN.
 * {@link #kick()} sends it with pthread_kill: inside KVM_RUN the ioctl returns EINTR at once;
 * outside, the signal stays pending (blocked) and the next KVM_RUN returns EINTR before
 * entering the guest, so a kick is never lost. The loop then removes the pending signal with
 * a zero-timeout sigtimedwait and checks the stop flag. No handler runs, ever.
 */
public final class VcpuRunner implements Runnable {
    private static volatile int kickSignal;

    private final KvmVcpu vcpu;
    private final Bus pio;
    private final Bus mmio;
    private final VcpuHost host;
    private final Object threadLock = new Object();
    private long pthread; // guarded by threadLock; 0 when not running
    private long exits;

    /** What the loop needs from its VM: the stop flag, and where to report outcomes. */
    public interface VcpuHost {
        boolean stopping();

        /** First report wins; the VM then kicks every vCPU. */
        void requestStop(VmExit exit);

        /** This vCPU halted for good (HLT without an irqchip). */
        void halted(int vcpu);

        /** Whether the VM wants its vCPUs parked (pause, snapshot); checked before every KVM_RUN. */
        default boolean pauseRequested() {
            return false;
        }

        /**
         * Called on the vCPU thread when it is out of KVM_RUN and the VM is pausing: blocks until
         * the VM resumes or stops. No guest code runs meanwhile (the vCPU is not in KVM_RUN).
         */
        default void park(int vcpu) {}
    }

    public VcpuRunner(KvmVcpu vcpu, Bus pio, Bus mmio, VcpuHost host) {
        this.vcpu = vcpu;
        this.pio = pio;
        this.mmio = mmio;
        this.host = host;
    }

    /** The real-time signal used to kick vCPU threads out of KVM_RUN (SIGRTMIN). */
    public static int kickSignal() {
        int s = kickSignal;
        if (s == 0) {
            s = Signals.sigrtmin();
            kickSignal = s;
        }
        return s;
    }

    public int id() {
        return vcpu.id();
    }

    /** Exits handled so far (read after the thread ended, or approximately while it runs). */
    public long exits() {
        return exits;
    }

    /** Makes this vCPU leave KVM_RUN (or not enter it again) soon; safe from any thread. */
    public void kick() {
        synchronized (threadLock) {
            if (pthread != 0) {
                Signals.kill(pthread, kickSignal());
            }
        }
    }

    @Override
    public void run() {
        int sig = kickSignal();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment oldMask = Signals.blockInThisThread(arena, sig);
            MemorySegment kvmMask = arena.allocate(KvmVcpu.KERNEL_SIGSET_SIZE, 8);
            MemorySegment.copy(oldMask, 0, kvmMask, 0, KvmVcpu.KERNEL_SIGSET_SIZE);
            long bits = kvmMask.get(ValueLayout.JAVA_LONG, 0) & ~(1L << (sig - 1));
            kvmMask.set(ValueLayout.JAVA_LONG, 0, bits);
            vcpu.setSignalMask(kvmMask);
            MemorySegment kickSet = Signals.sigset(arena, sig);
            MemorySegment zero = Signals.zeroTimeout(arena);
            synchronized (threadLock) {
                pthread = Signals.pthreadSelf();
            }
            try {
                loop(kickSet, zero);
            } finally {
                synchronized (threadLock) {
                    pthread = 0;
                }
                // Every kick still queued, not just one: kicks sent while this thread was outside
                // KVM_RUN (in a device handler) queue up (real-time signals do), and one left
                // pending at thread exit is delivered as the thread unblocks its signals and ends
                // the whole process (SIGRTMIN's default action).
                while (Signals.consumePending(kickSet, zero) > 0) {
                    // next
                }
            }
        } catch (RuntimeException | Error e) {
            host.requestStop(new VmExit(ExitStatus.HYPERVISOR_ERROR, vcpu.id(), "vCPU " + vcpu.id() + " failed: " + e));
        }
    }

    private void loop(MemorySegment kickSet, MemorySegment zero) {
        KvmRun run = vcpu.kvmRun();
        // Parking is only safe after a KVM_RUN that returned EINTR: after an I/O or MMIO exit the
        // instruction completes only on the next KVM_RUN (api.rst, KVM_RUN: "the corresponding
        // operations are complete (and guest state is consistent) only after userspace has
        // re-entered the kernel with KVM_RUN"). A pending kick makes that KVM_RUN finish the
        // instruction and return EINTR without running further guest code.
        boolean consistent = true;
        while (!host.stopping()) {
            if (host.pauseRequested()) {
                if (consistent) {
                    host.park(vcpu.id());
                    continue;
                }
                kick();
            }
            if (vcpu.run() < 0) {
                int errno = NativeCall.errno();
                if (errno == Errno.EINTR || errno == Errno.EAGAIN) {
                    consistent = true;
                    Signals.consumePending(kickSet, zero);
                    continue;
                }
                host.requestStop(new VmExit(ExitStatus.HYPERVISOR_ERROR, vcpu.id(),
                        "KVM_RUN failed on vCPU " + vcpu.id() + ": " + Errno.name(errno)));
                return;
            }
            exits++;
            consistent = false;
            switch (run.exitReason()) {
                case KvmExit.IO -> handleIo(run);
                case KvmExit.MMIO -> handleMmio(run);
                case KvmExit.INTR, KvmExit.IRQ_WINDOW_OPEN -> Signals.consumePending(kickSet, zero);
                case KvmExit.HLT -> {
                    host.halted(vcpu.id());
                    return;
                }
                default -> {
                    host.requestStop(outcome(run));
                    return;
                }
            }
        }
    }

    private void handleIo(KvmRun run) {
        int port = run.ioPort();
        int size = run.ioSize();
        int count = run.ioCount();
        if (run.ioDirection() == KvmExit.IO_OUT) {
            for (int i = 0; i < count; i++) {
                pio.write(port, size, run.ioData(i, size));
            }
        } else {
            for (int i = 0; i < count; i++) {
                run.ioData(i, size, pio.read(port, size));
            }
        }
    }

    private void handleMmio(KvmRun run) {
        long addr = run.mmioPhysAddr();
        int len = Math.min(run.mmioLen(), 8);
        if (run.mmioIsWrite()) {
            mmio.write(addr, len, run.mmioData(len));
        } else {
            run.mmioData(mmio.read(addr, len));
        }
    }

    /** Turns a VM-ending exit into its outcome (allocates; only happens once). */
    private VmExit outcome(KvmRun run) {
        int id = vcpu.id();
        return switch (run.exitReason()) {
            case KvmExit.SHUTDOWN -> new VmExit(ExitStatus.CRASH, id, "guest triple fault (KVM_EXIT_SHUTDOWN) on vCPU " + id);
            case KvmExit.SYSTEM_EVENT -> switch (run.systemEventType()) {
                case KvmExit.SYSTEM_EVENT_SHUTDOWN -> new VmExit(ExitStatus.POWEROFF, id, "guest powered off (KVM system event)");
                case KvmExit.SYSTEM_EVENT_RESET -> new VmExit(ExitStatus.REBOOT, id, "guest reset (KVM system event)");
                case KvmExit.SYSTEM_EVENT_CRASH -> new VmExit(ExitStatus.CRASH, id, "guest crash (KVM system event)");
                default -> new VmExit(ExitStatus.HYPERVISOR_ERROR, id, "unknown KVM system event " + run.systemEventType());
            };
            case KvmExit.INTERNAL_ERROR, KvmExit.FAIL_ENTRY, KvmExit.EXCEPTION, KvmExit.UNKNOWN ->
                    new VmExit(ExitStatus.KVM_INTERNAL_ERROR, id, "KVM cannot run vCPU " + id + ": " + run.describe());
            default -> new VmExit(ExitStatus.HYPERVISOR_ERROR, id, "unexpected exit on vCPU " + id + ": " + run.describe());
        };
    }
}
