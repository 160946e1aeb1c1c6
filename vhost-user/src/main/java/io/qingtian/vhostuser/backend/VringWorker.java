package io.qingtian.vhostuser.backend;

import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.SplitQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The thread serving one started, enabled vring: waits for the kick eventfd, pops and
 * executes every available chain, publishes used elements and signals the call eventfd
 * when the driver wants it (EVENT_IDX aware). A platform thread, because it blocks in
 * poll(2) through a native call.
 *
 * <p>Stopping is cooperative: {@link #stop} wakes the thread through a private eventfd and
 * joins it, so a request being executed always completes and its used element is published
 * before the ring changes hands (GET_VRING_BASE, a new memory table, disconnect).
 */
final class VringWorker implements Runnable {
    private static final Logger LOG = Logger.getLogger(VringWorker.class.getName());

    private final String name;
    private final int queueIndex;
    private final SplitQueue queue;
    private final VhostUserDevice device;
    private final int kickFd;
    private final int callFd;
    private final int errFd;
    private final int stopFd;
    private final DescriptorChain chain;
    private final Thread thread;
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
        this.chain = new DescriptorChain(queue.size());
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
        }
    }

    /** Serves every available chain. Returns false when the queue broke. */
    private boolean drain(EventFd ev) {
        do {
            while (queue.pop(chain)) {
                int len = device.process(queueIndex, chain);
                queue.addUsed(chain.head(), len);
                queue.publishUsed();
                if (queue.needsNotification() && callFd >= 0) {
                    ev.signal(callFd);
                }
            }
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
