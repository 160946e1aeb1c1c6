package io.qingtian.vhostuser.backend;

import io.qingtian.sys.BoundedWait;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.SplitQueue;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The thread serving one started, enabled vring: waits for the kick eventfd, pops and
 * executes every available chain, publishes used elements and signals the call eventfd
 * when the driver wants it (EVENT_IDX aware). A platform thread, because it blocks in
 * poll(2) through a native call.
 *
 * <p>Per chain it costs no system call: while it drains the ring (and for an optional short
 * spin after, {@link #SPIN_NANOS}) the driver is asked not to kick ({@link RingNotifications});
 * used elements of chains run inline are published in batches of up to
 * {@link VhostUserDevice#completionBatch} (1 unless the device asks for more), with at most one
 * call eventfd write each, and always before the worker sleeps, waits on a
 * {@link VhostUserDevice#holdNanos hold} or starts the last chain of a burst (so a slow
 * request never delays the completion of faster ones before it).
 *
 * <p>Requests the device allows ({@link VhostUserDevice#runConcurrently}: large ones, or all
 * for a blocking backend) are handed to a few helper threads when more chains are waiting
 * behind them, so big transfers use more than one core and slow backends overlap requests (as
 * qemu-storage-daemon's thread pool does); a lone request runs inline, with no hand-off
 * latency. Used elements are added under a lock, in completion order (virtio allows any order).
 *
 * <p>Stopping is cooperative: {@link #stop} wakes the thread through a private eventfd and
 * joins it after every request in flight has completed and been published, so nothing is
 * half done when the ring changes hands (GET_VRING_BASE, a new memory table, disconnect).
 * That wait has no bound on purpose: the ring's memory is unmapped or handed to a new owner
 * right after, and a request still running would then fault the process or write into a ring
 * that is no longer ours. When it lasts longer than {@link BoundedWait#SHUTDOWN} the threads
 * it waits for are reported; bounding a shutdown is the job of
 * {@link VhostUserBackend#close(java.time.Duration)}, which stops waiting and leaves the
 * release to this thread.
 */
final class VringWorker implements Runnable {
    private static final Logger LOG = Logger.getLogger(VringWorker.class.getName());
    /**
     * Helper threads per queue (0 = every request inline); {@code -Dqt.vhost.helpers=N}
     * overrides. Not tied to the core count: helpers mostly wait on storage (NBD, disks).
     */
    static final int HELPERS = Integer.getInteger("qt.vhost.helpers", 4);
    /**
     * How long an idle worker keeps polling the avail index before it sleeps on the kick
     * eventfd ({@code -Dqt.vhost.spinMicros=N}): a busy driver's next burst is picked up
     * without a kick (its system call) and a wake-up (ours), for N microseconds of a core per
     * idle period. Off by default: on the 2-core machines this runs on, the spin takes the
     * core from the driver that would fill the ring (bench/network/README.md measured 20 µs:
     * more CPU per frame, no more frames per second). Worth trying where cores are spare.
     */
    static final long SPIN_NANOS = Long.getLong("qt.vhost.spinMicros", 0) * 1000;
    /** Inline completions published together at most, whatever the device asks. */
    static final int MAX_BATCH = 256;
    private static final int MAX_HANDED_OFF = 64;
    private static final int MAX_HOLD_MILLIS = 1000;

    private final String name;
    private final int queueIndex;
    private final SplitQueue queue;
    private final RingNotifications notifications;
    private final VhostUserDevice device;
    private final int kickFd;
    private final int errFd;
    private final int stopFd;
    private final Thread thread;
    private final Object usedLock = new Object();
    private final ArrayDeque<DescriptorChain> spareChains = new ArrayDeque<>();
    private ExecutorService helpers;
    /** The helper threads started so far (for reports of a stop that takes long). */
    private final List<Thread> helperThreads = new CopyOnWriteArrayList<>();
    private int handedOff;
    /** Inline completions added but not yet published (guarded by usedLock). */
    private int unpublished;
    private volatile boolean stopping;
    /** Records pops for inflight tracking, or null. */
    private final InflightQueue inflight;
    /** Heads in flight when the previous back-end died, resubmitted before anything else (counter order). */
    private final int[] resubmit;
    private final java.lang.foreign.MemorySegment descTable;

    VringWorker(String name, int queueIndex, SplitQueue queue, RingNotifications notifications, VhostUserDevice device,
                int kickFd, int errFd) {
        this(name, queueIndex, queue, notifications, device, kickFd, errFd, null, new int[0], null);
    }

    VringWorker(String name, int queueIndex, SplitQueue queue, RingNotifications notifications, VhostUserDevice device,
                int kickFd, int errFd, InflightQueue inflight, int[] resubmit, java.lang.foreign.MemorySegment descTable) {
        this.inflight = inflight;
        this.resubmit = resubmit.clone();
        this.descTable = descTable;
        this.name = name;
        this.queueIndex = queueIndex;
        this.queue = queue;
        this.notifications = notifications;
        this.device = device;
        this.kickFd = kickFd;
        this.errFd = errFd;
        this.stopFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this);
    }

    void start() {
        thread.start();
    }

    @Override
    public void run() {
        EventFd ev = new EventFd();
        try {
            resubmitInflight();
            // Chains may already be waiting (a restarted ring): serve them before sleeping.
            if (!drain(ev)) {
                return;
            }
            while (!stopping) {
                int w = ev.await(kickFd, stopFd, -1);
                if (w == 1 || stopping) {
                    return;
                }
                if (w == -2) {
                    LOG.warning(name + ": kick fd hung up; ring idle until reconfigured");
                    ev.await(stopFd, -1, -1);
                    return;
                }
                ev.consume(kickFd);
                if (!drain(ev)) {
                    return;
                }
            }
        } catch (Throwable t) {
            // Never let a worker die silently: the ring stops, the connection stays up.
            LOG.log(Level.SEVERE, name + ": worker failed; ring stopped", t);
        } finally {
            flush();
            quiesceHelpers();
        }
    }

    /**
     * Executes again the requests a previous back-end had taken from the ring but not
     * completed (vhost-user.rst "Inflight I/O tracking": resubmit in counter order), before
     * any new chain. They stay marked in flight until their used element is published.
     */
    private void resubmitInflight() {
        if (resubmit.length == 0) {
            return;
        }
        LOG.info(name + ": resubmitting " + resubmit.length + " request(s) in flight when the previous back-end stopped");
        DescriptorChain chain = takeChain();
        for (int head : resubmit) {
            chain.walk(descTable, queue.size(), head, queue.memory());
            int len = device.process(queueIndex, chain);
            addUsedInline(head, len);
            flush();
        }
        returnChain(chain);
    }

    /**
     * Serves chains until the ring stays empty through the spin, then re-enables kicks.
     * Returns false when the queue broke.
     */
    private boolean drain(EventFd ev) {
        int batch = Math.max(1, Math.min(MAX_BATCH, device.completionBatch(queueIndex)));
        notifications.suppressKicks();
        do {
            DescriptorChain chain = takeChain();
            // Chains known to be available, so that deciding whether more follow (batching,
            // hand-off) does not read the avail index, a cache line the driver writes, a second
            // time per chain (pop reads it once).
            int known = queue.pending();
            while (!stopping && queue.pop(chain)) {
                if (inflight != null) {
                    markInflight(chain.head());
                }
                known = known > 0 ? known - 1 : queue.pending();
                long hold = device.holdNanos(queueIndex, chain);
                if (hold > 0) {
                    hold(ev, chain, hold);
                }
                boolean more = known > 0 || (known = queue.pending()) > 0;
                if (more && device.runConcurrently(chain) && handOff(chain)) {
                    chain = takeChain();
                    continue;
                }
                if (!more) {
                    flush(); // the last chain of a burst may be slow: complete the ones before it first
                }
                int len = device.process(queueIndex, chain);
                if (addUsedInline(chain.head(), len) >= batch) {
                    flush();
                }
            }
            returnChain(chain);
            flush();
            if (queue.broken() != null) {
                LOG.warning(name + ": queue needs reset: " + queue.broken());
                if (errFd >= 0) {
                    ev.signal(errFd);
                }
                ev.await(stopFd, -1, -1);
                return false;
            }
            if (stopping) {
                return true;
            }
        } while (spin() || allowKicksAndRecheck());
        return true;
    }

    /**
     * Records a popped head in the inflight region. Once helper threads complete requests,
     * under the used lock: a helper that published a head's used element clears its flag
     * after the used index store, and the driver may already have made the head available
     * again — the new mark must not land before that clear.
     */
    private void markInflight(int head) {
        if (helpers == null) {
            inflight.popped(head);
            return;
        }
        synchronized (usedLock) {
            inflight.popped(head);
        }
    }

    /** Kicks back on; true (and kicks off again) when chains arrived meanwhile. */
    private boolean allowKicksAndRecheck() {
        if (notifications.allowKicks()) {
            notifications.suppressKicks();
            return true;
        }
        return false;
    }

    /** Polls the avail index for up to {@link #SPIN_NANOS}; true when chains arrived. */
    private boolean spin() {
        if (SPIN_NANOS <= 0) {
            return false;
        }
        long deadline = System.nanoTime() + SPIN_NANOS;
        do {
            // The clock is read once per 16 looks: it costs more than a look at the avail index.
            for (int i = 0; i < 16; i++) {
                if (queue.pending() > 0) {
                    return true;
                }
                Thread.onSpinWait();
            }
        } while (!stopping && System.nanoTime() - deadline < 0);
        return false;
    }

    /**
     * Holds {@code chain} (and the ring behind it) while the device asks to; everything done
     * before it is published first. A stop ends the hold: the chain is processed then, a
     * negligible overshoot, so the ring hands over with nothing popped and unprocessed.
     */
    private void hold(EventFd ev, DescriptorChain chain, long nanos) {
        flush();
        long wait = nanos;
        while (wait > 0 && !stopping) {
            ev.await(stopFd, -1, (int) Math.max(1, Math.min(MAX_HOLD_MILLIS, (wait + 999_999) / 1_000_000)));
            wait = stopping ? 0 : device.holdNanos(queueIndex, chain);
        }
    }

    /**
     * Adds the used element of a chain processed on this thread; returns how many are
     * unpublished. The lock is needed only once helper threads exist (they complete chains
     * concurrently); they are created on this thread, so without them nobody else touches the
     * used ring.
     */
    private int addUsedInline(int head, int len) {
        if (helpers == null) {
            queue.addUsed(head, len);
            notifications.used(head);
            return ++unpublished;
        }
        synchronized (usedLock) {
            queue.addUsed(head, len);
            notifications.used(head);
            return ++unpublished;
        }
    }

    /** Publishes inline completions (the device first completes its own deferred work). */
    private void flush() {
        device.batchDone(queueIndex);
        if (helpers == null) {
            publishInline();
            return;
        }
        synchronized (usedLock) {
            publishInline();
        }
    }

    private void publishInline() {
        if (unpublished > 0) {
            unpublished = 0;
            notifications.publish();
        }
    }

    private void complete(int head, int len) {
        synchronized (usedLock) {
            queue.addUsed(head, len);
            notifications.used(head);
            unpublished = 0; // published with this one
            notifications.publish();
        }
    }

    private boolean handOff(DescriptorChain chain) {
        if (HELPERS == 0) {
            return false;
        }
        synchronized (usedLock) {
            if (handedOff >= MAX_HANDED_OFF) {
                return false;
            }
            handedOff++;
        }
        if (helpers == null) {
            java.util.concurrent.ThreadFactory f = Thread.ofPlatform().daemon().name(name + "-io-", 0).factory();
            helpers = Executors.newFixedThreadPool(HELPERS, r -> {
                Thread t = f.newThread(r);
                helperThreads.add(t);
                return t;
            });
        }
        helpers.execute(() -> {
            int len = 0;
            try {
                len = device.process(queueIndex, chain);
            } catch (Throwable t) {
                LOG.log(Level.SEVERE, name + ": request failed unexpectedly", t);
            }
            complete(chain.head(), len);
            synchronized (usedLock) {
                handedOff--;
                spareChains.push(chain);
                usedLock.notifyAll();
            }
        });
        return true;
    }

    private DescriptorChain takeChain() {
        synchronized (usedLock) {
            DescriptorChain c = spareChains.poll();
            return c != null ? c : new DescriptorChain(queue.size());
        }
    }

    private void returnChain(DescriptorChain c) {
        synchronized (usedLock) {
            spareChains.push(c);
        }
    }

    /** Waits until every handed-off request has completed, then stops the helpers. */
    private void quiesceHelpers() {
        synchronized (usedLock) {
            boolean interrupted = false;
            while (handedOff > 0) {
                try {
                    usedLock.wait();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (helpers != null) {
            helpers.shutdown();
            try {
                helpers.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Wakes and joins the thread; returns the next avail index to resume from. Waits as long as
     * a request in hand takes (see the class comment), reporting the threads it waits for once
     * {@link BoundedWait#SHUTDOWN} has passed.
     */
    int stop() {
        stopping = true;
        new EventFd().signal(stopFd);
        if (!BoundedWait.join(thread, BoundedWait.SHUTDOWN)) {
            List<Thread> busy = new ArrayList<>();
            busy.add(thread);
            busy.addAll(helperThreads);
            BoundedWait.report(name + ": stopping the ring waits for a request in progress (" + handedOffNow()
                    + " on helper threads); the ring is released when it completes", busy);
        }
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Libc.closeQuietly(stopFd);
        return queue.nextAvail();
    }

    private int handedOffNow() {
        synchronized (usedLock) {
            return handedOff;
        }
    }
}
