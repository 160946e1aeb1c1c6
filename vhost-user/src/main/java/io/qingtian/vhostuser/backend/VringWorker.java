package io.qingtian.vhostuser.backend;

import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.SplitQueue;
import java.util.ArrayDeque;
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
 * <p>Requests the device allows ({@link VhostUserDevice#runConcurrently}: large ones, or all
 * for a blocking backend) are handed to a few helper threads when more chains are waiting
 * behind them, so big transfers use more than one core and slow backends overlap requests (as
 * qemu-storage-daemon's thread pool does); a lone request runs inline, with no hand-off
 * latency. Used elements
 * are added under a lock, in completion order (virtio allows any order).
 *
 * <p>Stopping is cooperative: {@link #stop} wakes the thread through a private eventfd and
 * joins it after every request in flight has completed and been published, so nothing is
 * half done when the ring changes hands (GET_VRING_BASE, a new memory table, disconnect).
 */
final class VringWorker implements Runnable {
    private static final Logger LOG = Logger.getLogger(VringWorker.class.getName());
    /**
     * Helper threads per queue (0 = every request inline); {@code -Dqt.vhost.helpers=N}
     * overrides. Not tied to the core count: helpers mostly wait on storage (NBD, disks).
     */
    static final int HELPERS = Integer.getInteger("qt.vhost.helpers", 4);
    private static final int MAX_HANDED_OFF = 64;

    private final String name;
    private final int queueIndex;
    private final SplitQueue queue;
    private final VhostUserDevice device;
    private final int kickFd;
    private final int callFd;
    private final int errFd;
    private final int stopFd;
    private final Thread thread;
    private final Object usedLock = new Object();
    private final EventFd usedSignal = new EventFd();
    private final ArrayDeque<DescriptorChain> spareChains = new ArrayDeque<>();
    private ExecutorService helpers;
    private int handedOff;
    private volatile boolean stopping;

    VringWorker(String name, int queueIndex, SplitQueue queue, VhostUserDevice device, int kickFd, int callFd, int errFd) {
        this.name = name;
        this.queueIndex = queueIndex;
        this.queue = queue;
        this.device = device;
        this.kickFd = kickFd;
        this.callFd = callFd;
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
            quiesceHelpers();
        }
    }

    /** Serves every available chain. Returns false when the queue broke. */
    private boolean drain(EventFd ev) {
        do {
            DescriptorChain chain = takeChain();
            while (queue.pop(chain)) {
                if (queue.pending() > 0 && device.runConcurrently(chain) && handOff(chain)) {
                    chain = takeChain();
                    continue;
                }
                complete(chain.head(), device.process(queueIndex, chain));
            }
            returnChain(chain);
            if (queue.broken() != null) {
                LOG.warning(name + ": queue needs reset: " + queue.broken());
                if (errFd >= 0) {
                    ev.signal(errFd);
                }
                ev.await(stopFd, -1, -1);
                return false;
            }
        } while (queue.enableNotification() && !stopping);
        return true;
    }

    private void complete(int head, int len) {
        synchronized (usedLock) {
            queue.addUsed(head, len);
            queue.publishUsed();
            if (queue.needsNotification() && callFd >= 0) {
                usedSignal.signal(callFd);
            }
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
            helpers = Executors.newFixedThreadPool(HELPERS, Thread.ofPlatform().daemon().name(name + "-io-", 0).factory());
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

    /** Wakes and joins the thread; returns the next avail index to resume from. */
    int stop() {
        stopping = true;
        new EventFd().signal(stopFd);
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
}
