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
import java.util.function.Consumer;

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
 *
 * <h2>Crash report</h2>
 * Every exit (and every EINTR return) goes into a preallocated {@link ExitRing} with the guest
 * RIP that KVM syncs into kvm_run ({@link SyncedRip}); when the guest triple-faults or KVM cannot
 * run it, the thread prints a {@link CrashReport} (registers, pending events, the last exits)
 * before it reports the outcome.
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
    private final ExitRing ring = new ExitRing();
    private final Consumer<String> crashReports;

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

        /**
         * Called on the vCPU thread when it leaves {@link #park} to run the guest again, still
         * outside KVM_RUN (the VM tells the guest's kvm-clock it was stopped: {@link GuestClockPause}).
         */
        default void unparked(KvmVcpu vcpu) {}
    }

    public VcpuRunner(KvmVcpu vcpu, Bus pio, Bus mmio, VcpuHost host) {
        this(vcpu, pio, mmio, host, report -> {
            System.err.print(report);
            System.err.flush();
        });
    }

    /** @param crashReports where the {@link CrashReport} goes (standard error by default) */
    public VcpuRunner(KvmVcpu vcpu, Bus pio, Bus mmio, VcpuHost host, Consumer<String> crashReports) {
        this.vcpu = vcpu;
        this.pio = pio;
        this.mmio = mmio;
        this.host = host;
        this.crashReports = crashReports;
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

    /** The last exits of this vCPU (read after the thread ended, or from the vCPU thread itself). */
    public ExitRing exitRing() {
        return ring;
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
        SyncedRip rip = new SyncedRip(run);
        rip.enable();
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
                    if (!host.stopping() && !host.pauseRequested()) {
                        host.unparked(vcpu);
                    }
                    continue;
                }
                kick();
            }
            if (vcpu.run() < 0) {
                int errno = NativeCall.errno();
                if (errno == Errno.EINTR || errno == Errno.EAGAIN) {
                    ring.record(ExitRing.EINTR, rip.rip());
                    consistent = true;
                    Signals.consumePending(kickSet, zero);
                    continue;
                }
                if (errno == Errno.EINVAL && exits == 0 && rip.disable()) {
                    continue; // a KVM without synced registers: the ring goes without RIPs
                }
                host.requestStop(new VmExit(ExitStatus.HYPERVISOR_ERROR, vcpu.id(),
                        "KVM_RUN failed on vCPU " + vcpu.id() + ": " + Errno.name(errno)));
                return;
            }
            exits++;
            consistent = false;
            int reason = run.exitReason();
            switch (reason) {
                case KvmExit.IO -> handleIo(run, rip.rip());
                case KvmExit.MMIO -> handleMmio(run, rip.rip());
                case KvmExit.INTR, KvmExit.IRQ_WINDOW_OPEN -> {
                    ring.record(reason, rip.rip());
                    Signals.consumePending(kickSet, zero);
                }
                case KvmExit.HLT -> {
                    ring.record(reason, rip.rip());
                    host.halted(vcpu.id());
                    return;
                }
                default -> {
                    ring.record(reason, rip.rip());
                    if (isCrash(reason) || reason == KvmExit.SYSTEM_EVENT
                            && run.systemEventType() == KvmExit.SYSTEM_EVENT_CRASH) {
                        report(run);
                    }
                    host.requestStop(outcome(run));
                    return;
                }
            }
        }
    }

    /** Exits after which the guest cannot go on: the ones that get a crash report. */
    static boolean isCrash(int reason) {
        return switch (reason) {
            case KvmExit.SHUTDOWN, KvmExit.INTERNAL_ERROR, KvmExit.FAIL_ENTRY, KvmExit.EXCEPTION, KvmExit.UNKNOWN -> true;
            default -> false;
        };
    }

    private void report(KvmRun run) {
        try {
            crashReports.accept(CrashReport.build(vcpu, run, ring));
        } catch (RuntimeException e) {
            // the report is a diagnostic: its failure must not hide the outcome
        }
    }

    private void handleIo(KvmRun run, long guestRip) {
        int port = run.ioPort();
        int size = run.ioSize();
        int count = run.ioCount();
        if (run.ioDirection() == KvmExit.IO_OUT) {
            ring.record(KvmExit.IO, true, port, size, count, count > 0 ? run.ioData(0, size) : 0, guestRip);
            for (int i = 0; i < count; i++) {
                pio.write(port, size, run.ioData(i, size));
            }
        } else {
            ring.record(KvmExit.IO, false, port, size, count, 0, guestRip);
            for (int i = 0; i < count; i++) {
                long v = pio.read(port, size);
                run.ioData(i, size, v);
                if (i == 0) {
                    ring.setLastValue(v);
                }
            }
        }
    }

    private void handleMmio(KvmRun run, long guestRip) {
        long addr = run.mmioPhysAddr();
        int len = Math.min(run.mmioLen(), 8);
        if (run.mmioIsWrite()) {
            long v = run.mmioData(len);
            ring.record(KvmExit.MMIO, true, addr, len, 1, v, guestRip);
            mmio.write(addr, len, v);
        } else {
            ring.record(KvmExit.MMIO, false, addr, len, 1, 0, guestRip);
            long v = mmio.read(addr, len);
            run.mmioData(v);
            ring.setLastValue(v);
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
