package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.RxBatch;
import io.qingtian.network.virtionet.VirtioNet;
import io.qingtian.network.virtionet.VirtioNetPort;
import io.qingtian.vhostuser.backend.DeviceQueue;
import io.qingtian.vhostuser.backend.VhostUserDevice;
import io.qingtian.virtio.queue.ChainError;
import io.qingtian.virtio.queue.DescriptorChain;

/**
 * A switch port's virtio-net device as the generic vhost-user back-end serves it. The
 * receive queue (0) is driven by the device: the switch writes a frame into it whenever
 * another port sends one, so the back-end hands the started ring to the port ({@link
 * SplitRxRing}). The transmit queue (1) is served by the back-end's worker: each chain is
 * one frame, copied out of the chain (which is completed at once) into the port's burst and
 * switched with the rest of the burst on the worker's thread all the way into the
 * destination's receive ring when the burst is full or the worker's batch ends ({@link
 * #batchDone}); the receive rings it wrote are published once per batch ({@link RxBatch}), and
 * a rate limit holds the ring ({@link #holdNanos}) rather than dropping.
 */
final class NetDevice implements VhostUserDevice {
    private final VirtioNetPort port;
    /** Only the transmit worker's thread touches this view (one worker per ring at a time). */
    private final ChainView txView = new ChainView(null);
    /** The transmit worker thread that entered its {@link RxBatch} (a restarted ring has a new one). */
    private Thread batchThread;

    NetDevice(VirtioNetPort port) {
        this.port = port;
    }

    @Override
    public int numQueues() {
        return 2;
    }

    @Override
    public long features() {
        return VirtioNet.OFFERED_FEATURES;
    }

    @Override
    public void featuresAcked(long features) {
        port.setFeatures(features);
    }

    @Override
    public byte[] readConfig(int offset, int size) {
        return port.readConfig(offset, size);
    }

    @Override
    public boolean writeConfig(int offset, byte[] data) {
        return false; // read-only: the MAC is assigned by the control plane
    }

    @Override
    public boolean drivesQueue(int queue) {
        return queue == VirtioNet.RX_QUEUE;
    }

    @Override
    public void queueStarted(int queue, DeviceQueue ring) {
        port.setRxRing(new SplitRxRing(ring));
    }

    @Override
    public void queueStopped(int queue) {
        port.setRxRing(null);
    }

    @Override
    public long holdNanos(int queue, DescriptorChain chain) {
        if (queue != VirtioNet.TX_QUEUE || chain.error() != ChainError.NONE) {
            return 0;
        }
        txView.chain = chain;
        return port.shapingDelay(txView);
    }

    @Override
    public int process(int queue, DescriptorChain chain) {
        if (queue != VirtioNet.TX_QUEUE) {
            return 0; // only the transmit queue has a worker
        }
        if (chain.error() != ChainError.NONE) {
            port.badChain();
            return 0;
        }
        Thread t = Thread.currentThread();
        if (batchThread != t) { // once per worker thread, not a ThreadLocal lookup per frame
            RxBatch.enter();
            batchThread = t;
        }
        txView.chain = chain;
        return port.transmitInBurst(txView, true); // batchDone ends the burst
    }

    /** Transmit chains are switched in a few hundred nanoseconds: complete them 64 at a time. */
    @Override
    public int completionBatch(int queue) {
        return queue == VirtioNet.TX_QUEUE ? 64 : 1;
    }

    @Override
    public void batchDone(int queue) {
        if (queue == VirtioNet.TX_QUEUE) {
            port.endBurst();
        }
        RxBatch.flushCurrent();
    }
}
