package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.VirtioNetPort;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.queue.ChainError;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.SplitQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The thread serving a port's transmit virtqueue: waits for a kick, pops every available
 * chain, hands it to the virtio-net device (which switches the frame, all the way into the
 * destination's receive ring, on this thread), and completes chains in batches so the
 * driver gets one interrupt per batch rather than per frame.
 */
final class TxWorker implements Runnable {
    private static final Logger LOG = Logger.getLogger(TxWorker.class.getName());
    private static final int BATCH = 64;

    private final String name;
    private final SplitQueue queue;
    private final VirtioNetPort port;
    private final int kickFd;
    private final int callFd;
    private final int stopFd;
    private final DescriptorChain chain;
    private final ChainView view;
    private final Thread thread;
    private volatile boolean stopping;

    TxWorker(String name, SplitQueue queue, VirtioNetPort port, int kickFd, int callFd) {
        this.name = name;
        this.queue = queue;
        this.port = port;
        this.kickFd = kickFd;
        this.callFd = callFd;
        this.stopFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        this.chain = new DescriptorChain(queue.size());
        this.view = new ChainView(chain);
        this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this);
    }

    void start() {
        thread.start();
    }

    @Override
    public void run() {
        EventFd ev = new EventFd();
        try {
            drain(ev);
            while (!stopping && queue.broken() == null) {
                int w = ev.await(kickFd, stopFd, -1);
                if (w != 0 || stopping) {
                    return;
                }
                ev.consume(kickFd);
                drain(ev);
            }
            if (queue.broken() != null) {
                LOG.warning(name + ": transmit queue needs reset: " + queue.broken());
            }
        } catch (Throwable t) {
            LOG.log(Level.SEVERE, name + ": transmit worker failed; queue stopped", t);
        }
    }

    private void drain(EventFd ev) {
        do {
            int n = 0;
            while (!stopping && queue.pop(chain)) {
                if (chain.error() == ChainError.NONE) {
                    long wait;
                    while (!stopping && (wait = port.shapingDelay(view)) > 0) {
                        // Over the rate limit: hold the guest's ring (complete what is done first).
                        if (n > 0) {
                            complete(ev);
                            n = 0;
                        }
                        ev.await(stopFd, -1, (int) Math.max(1, Math.min(1000, (wait + 999_999) / 1_000_000)));
                    }
                    if (stopping) {
                        // Give the chain back untouched: it is resent after the ring restarts.
                        queue.setNextAvail((queue.nextAvail() - 1) & 0xFFFF);
                        break;
                    }
                    port.transmitChain(view, true);
                } else {
                    port.badChain();
                }
                queue.addUsed(chain.head(), 0);
                if (++n == BATCH) {
                    complete(ev);
                    n = 0;
                }
            }
            if (n > 0) {
                complete(ev);
            }
        } while (!stopping && queue.enableNotification() && queue.broken() == null);
    }

    private void complete(EventFd ev) {
        queue.publishUsed();
        if (queue.needsNotification() && callFd >= 0) {
            ev.signal(callFd);
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
