package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.NetChain;
import io.qingtian.network.virtionet.RxRing;
import io.qingtian.vhostuser.backend.DeviceQueue;
import io.qingtian.virtio.queue.ChainError;
import io.qingtian.virtio.queue.DescriptorChain;

/**
 * The receive virtqueue driven by the switch: frames arrive whenever another port sends,
 * so the device pops buffers itself instead of a worker reacting to kicks. Used only under the
 * switch port's lock (see {@link io.qingtian.network.virtionet.VirtioNetPort}).
 *
 * <p>Chains are walked {@value #LOOKAHEAD} at a time, ahead of the frames that will fill them:
 * the descriptors were just written by the driver on another CPU, and reading several in one
 * loop lets their cache misses overlap instead of paying one per frame (DPDK's vhost enqueue
 * gathers the buffers of a whole burst before copying, for the same reason). A walked chain
 * stays the device's until a frame uses it; a frame that does not fit gives its chains back
 * for the next one, and when the ring stops ({@link #release}) the unused ones return to the
 * driver's side of the ring. Malformed chains are returned to the driver empty at once.
 */
final class SplitRxRing implements RxRing {
    /** Chains walked per refill. */
    private static final int LOOKAHEAD = 16;
    /** Chains one frame may take at most (VirtioNetPort stops asking at 64). */
    private static final int MAX_FRAME_CHAINS = 64;
    /** Walked chains kept: a whole frame's plus a lookahead (a power of two). */
    private static final int CAPACITY = 128;
    private static final int MASK = CAPACITY - 1;

    private final DeviceQueue queue;
    private final DescriptorChain[] chains = new DescriptorChain[CAPACITY];
    private final ChainView[] views = new ChainView[CAPACITY];
    /** The avail index each walked chain was popped at. */
    private final int[] availIndex = new int[CAPACITY];
    /** Next walked chain to hand out; end of the walked chains; first chain of the current frame. */
    private int head;
    private int tail;
    private int frameStart;
    private int popped;
    /** Avail index of the last malformed chain given back, -1 if none: walked chains before it cannot be un-popped. */
    private int lastGivenBack = -1;

    SplitRxRing(DeviceQueue queue) {
        this.queue = queue;
        for (int i = 0; i < CAPACITY; i++) {
            chains[i] = new DescriptorChain(queue.size());
            views[i] = new ChainView(chains[i]);
        }
    }

    @Override
    public NetChain pop() {
        if (popped == 0) {
            frameStart = head;
        }
        if (popped == MAX_FRAME_CHAINS) {
            return null;
        }
        if (head == tail) {
            refill();
            if (head == tail) {
                return null;
            }
        }
        ChainView v = views[head & MASK];
        head++;
        popped++;
        return v;
    }

    /** Walks up to {@link #LOOKAHEAD} available chains, never over the current frame's. */
    private void refill() {
        int n = Math.min(LOOKAHEAD, CAPACITY - (tail - frameStart));
        for (int i = 0; i < n; i++) {
            DescriptorChain c = chains[tail & MASK];
            int index = queue.nextAvail();
            if (!queue.pop(c)) {
                return;
            }
            if (c.error() != ChainError.NONE || c.writableCount() == 0) {
                queue.addUsed(c.head(), 0); // unusable chain: give it back empty, never reuse it
                queue.publish();
                lastGivenBack = index;
                continue;
            }
            availIndex[tail & MASK] = index;
            tail++;
        }
    }

    /** The frame did not fit: its chains stay walked, for the next frame. */
    @Override
    public void rewind(int n) {
        head = frameStart;
        popped = 0;
    }

    @Override
    public void addUsed(int head, int writtenBytes) {
        queue.addUsed(head, writtenBytes);
    }

    @Override
    public void endFrame() {
        popped = 0;
        if (head == tail) {
            lastGivenBack = -1; // no walked chain left that could precede it
        }
    }

    @Override
    public void publish() {
        queue.publish();
    }

    /**
     * The ring stops: walked chains no frame used go back to the driver's side (the next avail
     * index is moved back to the first of them), except those walked before a malformed chain
     * already given back, which cannot be un-popped past it: they are returned empty.
     */
    @Override
    public void release() {
        int pos = head;
        if (lastGivenBack >= 0) {
            // Avail indexes are 16-bit counters: "before" is a difference in (-32768, 0).
            while (pos != tail && (short) (availIndex[pos & MASK] - lastGivenBack) < 0) {
                queue.addUsed(chains[pos & MASK].head(), 0);
                pos++;
            }
        }
        if (pos != tail) {
            queue.rewindTo(availIndex[pos & MASK]); // publishes what was used first
        } else {
            queue.publish();
        }
        head = tail;
        frameStart = head;
        popped = 0;
    }
}
