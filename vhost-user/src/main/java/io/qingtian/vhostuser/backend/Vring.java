package io.qingtian.vhostuser.backend;

import io.qingtian.sys.Libc;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.queue.SplitQueue;
import java.lang.foreign.MemorySegment;
import java.util.logging.Logger;

/**
 * One vring's configuration as the front-end sets it (SET_VRING_NUM/ADDR/BASE/KICK/CALL/
 * ERR/ENABLE) and its worker. Touched only by the connection's message thread; the
 * worker gets immutable copies when it starts.
 *
 * <p>Life cycle (vhost-user.rst "Starting and stopping rings"): started by SET_VRING_KICK,
 * stopped by GET_VRING_BASE; it is served only while started and enabled.
 */
final class Vring {
    private static final Logger LOG = Logger.getLogger(Vring.class.getName());

    final int index;
    int num;
    int base;
    long descAddr;
    long usedAddr;
    long availAddr;
    boolean addrSet;
    int kickFd = -1;
    int callFd = -1;
    int errFd = -1;
    boolean started;
    boolean enabled;
    String problem;
    private VringWorker worker;
    /** Set instead of {@link #worker} while the device drives this ring. */
    private DeviceQueue driven;
    private VhostUserDevice drivingDevice;
    /** The connection's inflight region (SET_INFLIGHT_FD), or null: then nothing is tracked. */
    InflightRegion inflight;
    BackendEvents events = BackendEvents.NONE;

    Vring(int index) {
        this.index = index;
    }

    boolean running() {
        return worker != null || driven != null;
    }

    /** Stops the worker (completing the chain in hand) or takes the ring from the device; remembers where to resume. */
    void stopWorker() {
        if (worker != null) {
            base = worker.stop();
            worker = null;
        }
        if (driven != null) {
            drivingDevice.queueStopped(index);
            base = driven.nextAvail();
            driven = null;
            drivingDevice = null;
        }
    }

    /** Starts the worker when everything it needs is there. */
    void startIfReady(String device, MemoryTable memory, VhostUserDevice dev, boolean eventIdx) {
        boolean devicePops = dev.drivesQueue(index);
        if (running() || !started || !enabled || memory == null || !addrSet || num == 0 || (kickFd < 0 && !devicePops)) {
            return;
        }
        SplitQueue q;
        MemorySegment used;
        MemorySegment desc;
        try {
            desc = memory.ring(descAddr, SplitQueue.descTableBytes(num));
            MemorySegment avail = memory.ring(availAddr, SplitQueue.availRingBytes(num));
            used = memory.ring(usedAddr, SplitQueue.usedRingBytes(num));
            q = SplitQueue.create(num, desc, avail, used, memory.guestMemory(), eventIdx);
        } catch (GuestMemoryException | IllegalArgumentException e) {
            problem = "vring " + index + " cannot start: " + e.getMessage();
            LOG.warning(device + ": " + problem);
            return;
        }
        InflightQueue tracker = null;
        int[] resubmit = new int[0];
        int start = base;
        if (inflight != null && !devicePops) {
            // Rings a device pops itself (network receive) are not tracked: a lost frame is
            // what a NIC may do, and the device un-pops chains (rewind), which the spec's
            // bookkeeping does not model.
            MemorySegment region = inflight.queue(index);
            InflightQueue.Recovery[] r = new InflightQueue.Recovery[1];
            try {
                if (region == null) {
                    throw new InflightQueue.InflightException("inflight region covers " + inflight.numQueues() + " queues");
                }
                int guestUsed = Short.toUnsignedInt(used.get(InflightRegion.U16, 2));
                tracker = InflightQueue.recover(region, num, guestUsed, r);
            } catch (InflightQueue.InflightException e) {
                problem = "vring " + index + " cannot start: " + e.getMessage();
                LOG.warning(device + ": " + problem);
                return;
            }
            if (!r[0].fresh()) {
                // vhost-user.rst: the back-end resumes from the region, not from the base the
                // front-end sent (QEMU sends the guest's used index after a disconnect).
                start = r[0].nextAvail();
                resubmit = r[0].resubmit();
                if (resubmit.length > 0) {
                    events.resubmitting(index, resubmit.length);
                }
                if (start != base || resubmit.length > 0) {
                    LOG.info(device + ": ring " + index + " resumes at avail " + start + " (front-end said " + base
                            + ") with " + resubmit.length + " request(s) to resubmit");
                }
            }
        }
        q.setNextAvail(start);
        RingNotifications notifications = new RingNotifications(q, callFd, tracker);
        if (devicePops) {
            driven = new DeviceQueue(q, notifications);
            drivingDevice = dev;
            dev.queueStarted(index, driven);
            return;
        }
        worker = new VringWorker(device + "-q" + index, index, q, notifications, dev, kickFd, errFd, tracker, resubmit, desc);
        worker.start();
    }

    /** Back to the state of a fresh connection; the worker must be stopped. */
    void reset() {
        stopWorker();
        closeFds();
        num = 0;
        base = 0;
        addrSet = false;
        started = false;
        enabled = false;
        problem = null;
    }

    void closeFds() {
        Libc.closeQuietly(kickFd);
        Libc.closeQuietly(callFd);
        Libc.closeQuietly(errFd);
        kickFd = -1;
        callFd = -1;
        errFd = -1;
    }
}
