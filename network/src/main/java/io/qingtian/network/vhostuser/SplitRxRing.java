package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.NetChain;
import io.qingtian.network.virtionet.RxRing;
import io.qingtian.vhostuser.backend.DeviceQueue;
import io.qingtian.virtio.queue.ChainError;
import io.qingtian.virtio.queue.DescriptorChain;

/**
 * The receive virtqueue driven by the switch: frames arrive whenever another port sends,
 * so the device pops buffers itself instead of a worker reacting to kicks. Malformed
 * chains are returned to the driver empty and skipped. Used only under the
 * {@link io.qingtian.network.virtionet.VirtioNetPort}'s lock.
 */
final class SplitRxRing implements RxRing {
    private static final int MAX_CHAINS = 64;

    private final DeviceQueue queue;
    private final DescriptorChain[] chains;
    private final ChainView[] views;
    private int popped;
    /** Where the frame being written started in the avail ring (after any chain given back). */
    private int frameStart;
    /** Chains popped before the last unusable one: they cannot be un-popped past it. */
    private int stranded;

    SplitRxRing(DeviceQueue queue) {
        this.queue = queue;
        chains = new DescriptorChain[MAX_CHAINS];
        views = new ChainView[MAX_CHAINS];
        for (int i = 0; i < MAX_CHAINS; i++) {
            chains[i] = new DescriptorChain(queue.size());
            views[i] = new ChainView(chains[i]);
        }
    }

    @Override
    public NetChain pop() {
        if (popped == 0) {
            frameStart = queue.nextAvail();
            stranded = 0;
        }
        if (popped == MAX_CHAINS) {
            return null;
        }
        DescriptorChain c = chains[popped];
        while (queue.pop(c)) {
            if (c.error() == ChainError.NONE && c.writableCount() > 0) {
                return views[popped++];
            }
            queue.addUsed(c.head(), 0); // unusable chain: give it back empty, never reuse it
            queue.publish();
            frameStart = queue.nextAvail();
            stranded = popped;
        }
        return null;
    }

    /** Un-pops the chains of the frame that did not fit (they stay available for the next one). */
    @Override
    public void rewind(int n) {
        for (int i = 0; i < stranded; i++) {
            queue.addUsed(views[i].head(), 0);
        }
        queue.rewindTo(frameStart);
        popped = 0;
    }

    @Override
    public void addUsed(int head, int writtenBytes) {
        queue.addUsed(head, writtenBytes);
    }

    @Override
    public void endFrame() {
        popped = 0;
    }

    @Override
    public void publish() {
        queue.publish();
    }
}
