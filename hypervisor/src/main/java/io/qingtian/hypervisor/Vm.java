package io.qingtian.hypervisor;

import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.vcpu.GuestClockPause;
import io.qingtian.hypervisor.vcpu.VcpuRunner;
import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.BoundedWait;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A VM ready to run or running: KVM handles, guest RAM, the buses and one platform thread
 * per vCPU. {@link VmBuilder} assembles it from a {@code VmConfig}; tests that run raw
 * payloads assemble the parts directly.
 *
 * <p>Lifecycle: {@link #start()}, then {@link #awaitExit}; the first outcome reported (by a
 * vCPU, a device or {@link #stop}) ends the VM: every vCPU is kicked out of KVM_RUN and its
 * thread ends. {@link #close()} joins the threads and releases everything.
 */
public final class Vm implements AutoCloseable, VcpuRunner.VcpuHost {
    private final Kvm kvm;
    private final KvmVm vm;
    private final GuestRam ram;
    private final List<KvmVcpu> vcpus;
    private final List<VcpuRunner> runners = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private final AtomicReference<VmExit> exit = new AtomicReference<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final AtomicInteger halted = new AtomicInteger();
    private volatile boolean stopping;
    private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

    public Vm(Kvm kvm, KvmVm vm, GuestRam ram, Bus pio, Bus mmio, List<KvmVcpu> vcpus) {
        this.kvm = kvm;
        this.vm = vm;
        this.ram = ram;
        this.vcpus = List.copyOf(vcpus);
        for (KvmVcpu v : vcpus) {
            runners.add(new VcpuRunner(v, pio, mmio, this));
        }
    }

    public KvmVm kvmVm() {
        return vm;
    }

    public GuestRam ram() {
        return ram;
    }

    public List<KvmVcpu> vcpus() {
        return vcpus;
    }

    // Set by VmBuilder: the devices a snapshot saves and a restore fills (issue 8).
    private volatile io.qingtian.hypervisor.snapshot.PlatformDevices snapshotDevices;

    /** The devices whose state a snapshot carries; null for VMs assembled without {@link VmBuilder}. */
    public io.qingtian.hypervisor.snapshot.PlatformDevices snapshotDevices() {
        return snapshotDevices;
    }

    public void setSnapshotDevices(io.qingtian.hypervisor.snapshot.PlatformDevices devices) {
        this.snapshotDevices = devices;
    }

    /** Something closed after the vCPUs stop and before the memory goes (devices, input readers). */
    public void addResource(AutoCloseable r) {
        resources.add(r);
    }

    /** Starts one platform thread per vCPU. */
    public synchronized void start() {
        if (!threads.isEmpty()) {
            throw new IllegalStateException("VM already started");
        }
        for (VcpuRunner r : runners) {
            Thread t = Thread.ofPlatform().name("vcpu-" + r.id()).unstarted(r);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    /** Waits for the outcome; null if {@code timeout} passed first. */
    public VmExit awaitExit(Duration timeout) throws InterruptedException {
        return ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS) ? exit.get() : null;
    }

    /** Waits for the outcome without a limit. */
    public VmExit awaitExit() throws InterruptedException {
        ended.await();
        return exit.get();
    }

    /** Ends the VM from the host side (first outcome wins). */
    public void stop(VmExit why) {
        requestStop(why);
    }

    /** Exits handled by each vCPU's loop. */
    public long[] exitCounts() {
        return runners.stream().mapToLong(VcpuRunner::exits).toArray();
    }

    /** Waits until every vCPU thread has left its loop (after an exit was reported). */
    public void joinVcpus() throws InterruptedException {
        for (int i = 0; i < threads.size(); i++) {
            Thread t = threads.get(i);
            while (!t.join(Duration.ofMillis(100))) {
                runners.get(i).kick();
            }
        }
    }

    /**
     * One line per vCPU with its registers and exit count, for diagnosing a guest that
     * stopped or hung. Only after {@link #joinVcpus()} (vCPU ioctls belong to their thread while it runs).
     */
    public List<String> describeVcpus() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < vcpus.size(); i++) {
            KvmVcpu v = vcpus.get(i);
            String state;
            try {
                state = v.getRegs() + " " + v.getSregs() + " mp_state=" + v.getMpState();
            } catch (RuntimeException e) {
                state = "(state unavailable: " + e.getMessage() + ")";
            }
            out.add("vCPU " + v.id() + ": exits=" + runners.get(i).exits() + " " + state);
            // The lead-up to a hang: what this vCPU last exited for (issue: lab triple faults/hangs).
            for (io.qingtian.hypervisor.vcpu.ExitRing.Entry e : runners.get(i).exitRing().entries()) {
                out.add("vCPU " + v.id() + ":   " + e.describe());
            }
        }
        return out;
    }

    @Override
    public boolean stopping() {
        return stopping;
    }

    // ---- Pause and resume (issue 8). Parked vCPU threads are outside KVM_RUN, so no guest code
    // runs and their state can be read or written from another thread (the snapshot does). ----

    private final Object pauseLock = new Object();
    private volatile boolean pauseRequested;
    private int parked; // guarded by pauseLock
    private volatile GuestClockPause clockPause = GuestClockPause.toStandardError();

    /** The KVM system handle (for the MSR index list when saving vCPU state). */
    public Kvm kvm() {
        return kvm;
    }

    /** Whether {@link #pause} parked the vCPUs and {@link #resume} has not released them yet. */
    public boolean paused() {
        return pauseRequested;
    }

    /**
     * Kicks every vCPU out of KVM_RUN and waits until each is parked (a vCPU that has not started
     * yet parks as soon as it starts). Returns false if they did not all park within
     * {@code timeout} or the VM ended; the VM then stays flagged as pausing until {@link #resume}.
     */
    public boolean pause(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (pauseLock) {
            pauseRequested = true;
        }
        for (VcpuRunner r : runners) {
            r.kick();
        }
        synchronized (pauseLock) {
            while (parked < liveVcpuThreads() && !stopping) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(pauseLock, Math.min(left, 10_000_000L));
            }
            return !stopping;
        }
    }

    /** Releases the parked vCPUs; they re-enter KVM_RUN exactly where they left it. */
    public void resume() {
        synchronized (pauseLock) {
            pauseRequested = false;
            pauseLock.notifyAll();
        }
    }

    private int liveVcpuThreads() {
        int n = 0;
        for (Thread t : threads) {
            if (t.isAlive()) {
                n++;
            }
        }
        return n;
    }

    @Override
    public boolean pauseRequested() {
        return pauseRequested;
    }

    @Override
    public void park(int vcpu) {
        synchronized (pauseLock) {
            parked++;
            pauseLock.notifyAll();
            try {
                while (pauseRequested && !stopping) {
                    pauseLock.wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                parked--;
            }
        }
    }

    /** A resumed vCPU tells the guest's kvm-clock it was stopped, before it re-enters KVM_RUN. */
    @Override
    public void unparked(KvmVcpu vcpu) {
        clockPause.notifyStopped(vcpu);
    }

    /**
     * Tells the guest's kvm-clock on every vCPU that the host stopped it (a restored VM, before
     * {@link #start}): the vCPUs must be outside KVM_RUN. Returns how many vCPUs KVM accepted it
     * for (0 when the guest has not enabled kvm-clock).
     */
    public int notifyGuestClockStopped() {
        if (!threads.isEmpty() && !pauseRequested) {
            throw new IllegalStateException("the vCPUs are running: pause the VM first");
        }
        int n = 0;
        for (KvmVcpu v : vcpus) {
            if (clockPause.notifyStopped(v)) {
                n++;
            }
        }
        return n;
    }

    /** Where KVM_KVMCLOCK_CTRL failures are reported (standard error by default; tests). */
    public void setClockPause(GuestClockPause clockPause) {
        this.clockPause = clockPause;
    }

    @Override
    public void requestStop(VmExit why) {
        if (exit.compareAndSet(null, why)) {
            stopping = true;
            synchronized (pauseLock) {
                pauseLock.notifyAll(); // parked vCPUs leave
            }
            for (VcpuRunner r : runners) {
                r.kick();
            }
            ended.countDown();
        }
    }

    @Override
    public void halted(int vcpu) {
        if (halted.incrementAndGet() == runners.size()) {
            requestStop(new VmExit(ExitStatus.HALTED, vcpu, "all vCPUs halted"));
        }
    }

    /** {@link #close(Duration)} with {@link BoundedWait#SHUTDOWN}. */
    @Override
    public void close() {
        close(BoundedWait.SHUTDOWN);
    }

    /**
     * Ends the VM, joins the vCPU threads (kicking them out of KVM_RUN) and releases devices,
     * KVM handles and guest memory, waiting at most {@code bound} for each of the two steps.
     * Returns true when everything was released. A vCPU thread that does not leave (stuck in a
     * device handler, e.g. waiting for a peer that does not answer) is reported and nothing is
     * released under it (the process's exit does that); a device whose close hangs is reported
     * and the rest of the teardown goes on in the background, in order.
     */
    public boolean close(Duration bound) {
        requestStop(new VmExit(ExitStatus.STOPPED, -1, "VM closed by the host"));
        long deadline = System.nanoTime() + bound.toNanos();
        List<Thread> stuck = new ArrayList<>();
        for (int i = 0; i < threads.size(); i++) {
            Thread t = threads.get(i);
            // Kick again now and then: a signal that arrives just before KVM_RUN is entered
            // is consumed outside it.
            while (!BoundedWait.join(t, Duration.ofNanos(Math.max(0, Math.min(100_000_000L, deadline - System.nanoTime()))))) {
                if (System.nanoTime() - deadline >= 0) {
                    stuck.add(t);
                    break;
                }
                runners.get(i).kick();
            }
        }
        if (!stuck.isEmpty()) {
            BoundedWait.report("VM close: vCPU thread(s) still running " + bound.toMillis()
                    + " ms after the VM stopped; going on, guest memory and KVM handles are left to the process's exit", stuck);
            return false;
        }
        return BoundedWait.run("vm-teardown", bound, this::release);
    }

    private void release() {
        if (released.getAndSet(true)) {
            return; // closed before
        }
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception ignored) {
                // teardown continues
            }
        }
        vcpus.forEach(KvmVcpu::close);
        vm.close();
        ram.close();
        kvm.close();
    }

    /** vCPU threads that have not ended (0 after a successful {@link #close}). */
    public int liveVcpuThreadCount() {
        return liveVcpuThreads();
    }
}
