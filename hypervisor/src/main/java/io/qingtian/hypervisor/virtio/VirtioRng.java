package io.qingtian.hypervisor.virtio;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.queue.ChainError;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.virtio.queue.SplitQueue;
import java.lang.foreign.MemorySegment;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.List;
import java.util.logging.Logger;

/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4), kept in the hypervisor process: one
 * request queue whose device-writable buffers are filled with host entropy (the kernel's
 * urandom pool through the non-blocking native PRNG). It is the one device this process
 * serves itself, so a stock guest boots with entropy even before the card is reachable.
 *
 * <p>Work happens on the vCPU thread that wrote the notify register: a request is a few
 * hundred bytes at most (Linux asks for up to 64 per read, hwrng fills 32..128), so there is
 * nothing to gain from a worker thread. A chain that asks for more than {@link #MAX_PER_CHAIN}
 * gets that much (the used length says how many bytes were written).
 */
public final class VirtioRng implements SnapshottableVirtioDevice {
    private static final Logger LOG = Logger.getLogger(VirtioRng.class.getName());
    public static final int DEVICE_TYPE = 4;
    public static final int QUEUE_SIZE = 256;
    public static final int MAX_PER_CHAIN = 64 * 1024;

    private final GuestMemory memory;
    private final SecureRandom random;
    private final byte[] scratch = new byte[4096];
    private SplitQueue queue;
    private DescriptorChain chain;
    private VirtioInterrupt interrupt;
    private long bytesServed;
    private boolean warnedChain;

    public VirtioRng(GuestMemory memory) {
        this.memory = memory;
        this.random = hostEntropy();
    }

    private static SecureRandom hostEntropy() {
        try {
            return SecureRandom.getInstance("NativePRNGNonBlocking"); // /dev/urandom, never blocks
        } catch (NoSuchAlgorithmException e) {
            return new SecureRandom();
        }
    }

    @Override
    public int deviceType() {
        return DEVICE_TYPE;
    }

    @Override
    public long deviceFeatures() {
        return VirtioPciDevice.VIRTIO_F_VERSION_1;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public int queueMaxSize() {
        return QUEUE_SIZE;
    }

    @Override
    public long readConfig(long offset, int size) {
        return 0; // no device configuration (§5.4.4)
    }

    @Override
    public void writeConfig(long offset, int size, long value) {
    }

    @Override
    public synchronized boolean activate(long features, List<QueueConfig> queues, VirtioInterrupt interrupt) {
        if (queues.size() != 1 || queues.getFirst().index() != 0) {
            return false;
        }
        QueueConfig q = queues.getFirst();
        try {
            MemorySegment desc = memory.slice(q.descTable(), SplitQueue.descTableBytes(q.size()));
            MemorySegment avail = memory.slice(q.driverArea(), SplitQueue.availRingBytes(q.size()));
            MemorySegment used = memory.slice(q.deviceArea(), SplitQueue.usedRingBytes(q.size()));
            this.queue = SplitQueue.create(q.size(), desc, avail, used, memory, false);
        } catch (GuestMemoryException | IllegalArgumentException e) {
            LOG.warning("virtio-rng: bad queue setup: " + e.getMessage());
            return false;
        }
        this.chain = new DescriptorChain(q.size());
        this.interrupt = interrupt;
        return true;
    }

    @Override
    public synchronized void reset() {
        queue = null;
        chain = null;
        interrupt = null;
    }

    @Override
    public synchronized void queueNotify(int index) {
        if (queue == null || index != 0) {
            return;
        }
        boolean any = false;
        while (queue.pop(chain)) {
            int written = 0;
            if (chain.error() == ChainError.NONE) {
                written = fill(chain);
            } else if (!warnedChain) {
                warnedChain = true;
                LOG.warning("virtio-rng: malformed chain (" + chain.error() + "); completed empty (logged once)");
            }
            queue.addUsed(chain.head(), written);
            any = true;
        }
        if (queue.broken() != null) {
            LOG.warning("virtio-rng: queue broken: " + queue.broken());
            interrupt.needsReset();
            queue = null;
            return;
        }
        if (any) {
            queue.publishUsed();
            if (queue.needsNotification()) {
                interrupt.queue(0);
            }
        }
    }

    private int fill(DescriptorChain c) {
        int written = 0;
        for (int i = 0; i < c.count() && written < MAX_PER_CHAIN; i++) {
            if (!c.isWritable(i)) {
                continue;
            }
            MemorySegment buf = c.buffer(i);
            long n = Math.min(buf.byteSize(), MAX_PER_CHAIN - written);
            for (long off = 0; off < n; off += scratch.length) {
                int len = (int) Math.min(scratch.length, n - off);
                byte[] b = len == scratch.length ? scratch : new byte[len];
                random.nextBytes(b);
                MemorySegment.copy(b, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, off, len);
            }
            written += (int) n;
        }
        bytesServed += written;
        return written;
    }

    public synchronized long bytesServed() {
        return bytesServed;
    }

    // ---- snapshot (issue 8): requests are served synchronously, so nothing is ever in flight ----

    @Override
    public synchronized int[] saveRings(int queueCount, List<QueueConfig> running) {
        int[] bases = new int[queueCount];
        java.util.Arrays.fill(bases, -1);
        if (queue != null) {
            bases[0] = queue.nextAvail();
        }
        return bases;
    }

    @Override
    public void resumeRings() {
        // never stopped
    }

    @Override
    public synchronized boolean activateRestored(long features, List<QueueConfig> queues, VirtioInterrupt irq, int[] bases) {
        if (bases.length < 1 || bases[0] < 0 || !activate(features, queues, irq)) {
            return false;
        }
        queue.setNextAvail(bases[0]); // the used index continues from the ring in guest memory
        return true;
    }
}
