package io.qingtian.vhostuser.backend;

import static io.qingtian.vhostuser.backend.InflightRegion.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * One split ring's part of an {@link InflightRegion}, kept up to date on the data path and
 * read back when a ring starts (vhost-user.rst "Inflight I/O tracking", split virtqueue).
 *
 * <p>Data path, in the order the spec gives, so that a back-end killed between any two
 * stores leaves a region the next one can recover:
 * <ul>
 * <li>{@link #popped}: a head taken from the avail ring gets the next counter value, then
 *     its inflight flag (release store: counter first; and a head's flag is never stored
 *     before the flags of heads popped earlier, so "in flight" is a prefix of the pops);
 * <li>{@link #used}: each used element joins the last-batch list (desc.next =
 *     last_batch_head; last_batch_head = head);
 * <li>{@link #published}, after the used index was stored: the batch's inflight flags are
 *     cleared, then used_idx is set to the ring's used index.
 * </ul>
 * A crash before the used index store leaves the batch in flight (resubmitted); after it
 * but before used_idx, {@link #recover} sees used_idx behind the ring and clears the batch
 * from the list. Costs per request: two stores at pop, two at use, one per batch and one
 * per element at publish; no system call, no allocation.
 *
 * <p>Threading: one thread at a time for all three: the ring's worker alone, or anyone
 * holding the worker's used lock once helper threads complete requests (a head published by
 * a helper may be popped again by the worker before the helper clears its flag otherwise).
 *
 * <p>The front-end can write the region too. Nothing read from it is trusted: {@link
 * #recover} validates what it reads (bad content is an {@link InflightException}, the ring
 * does not start), and the data path reads nothing back from shared memory.
 */
final class InflightQueue {

    /** What a ring starts from: heads to resubmit first (counter order) and the next avail index. */
    record Recovery(int[] resubmit, int nextAvail, boolean fresh) {}

    /** The region's contents cannot be used for this ring. */
    static final class InflightException extends Exception {
        InflightException(String message) {
            super(message);
        }
    }

    private final MemorySegment q;
    private final int size;
    /** Heads used since the last publish (a private copy of the batch list: never read back from shared memory). */
    private final int[] batch;
    private int batchLength;
    private long counter;

    private InflightQueue(MemorySegment q, int size, long counter) {
        this.q = q;
        this.size = size;
        this.batch = new int[size];
        this.counter = counter;
    }

    private static long desc(int head) {
        return HEADER_BYTES + (long) DESC_STATE_BYTES * head;
    }

    /**
     * Reads queue memory {@code q} for a ring of {@code ringSize} entries whose used index in
     * guest memory is {@code guestUsedIdx}: fixes up a last batch that was published but not
     * recorded, collects the heads still in flight in counter order, and computes the next
     * avail index (used index + heads in flight: every popped head is either used or in
     * flight). A never-used region (version 0) is initialised and means "nothing in flight".
     */
    static InflightQueue recover(MemorySegment q, int ringSize, int guestUsedIdx, Recovery[] out) throws InflightException {
        if (q.byteSize() < HEADER_BYTES + (long) DESC_STATE_BYTES * ringSize) {
            throw new InflightException("inflight region too small for a " + ringSize + "-entry ring");
        }
        int version = Short.toUnsignedInt(q.get(U16, OFF_VERSION));
        int descNum = Short.toUnsignedInt(q.get(U16, OFF_DESC_NUM));
        if (version == 0) {
            q.asSlice(0, HEADER_BYTES + (long) DESC_STATE_BYTES * ringSize).fill((byte) 0);
            q.set(U16, OFF_DESC_NUM, (short) ringSize);
            q.set(U16, OFF_USED_IDX, (short) guestUsedIdx);
            q.set(U16, OFF_VERSION, (short) VERSION);
            out[0] = new Recovery(new int[0], guestUsedIdx, true);
            return new InflightQueue(q, ringSize, 1);
        }
        if (version != VERSION) {
            throw new InflightException("inflight region version " + version + " (only " + VERSION + " is defined)");
        }
        // 16 bits on the wire: a queue of 32768 has desc_num 32768, which fits.
        if (descNum != ringSize) {
            throw new InflightException("inflight region has desc_num " + descNum + " for a " + ringSize + "-entry ring");
        }
        int recordedUsed = Short.toUnsignedInt(q.get(U16, OFF_USED_IDX));
        int lastBatch = (guestUsedIdx - recordedUsed) & 0xFFFF;
        if (lastBatch > ringSize && nothingInFlight(q, ringSize)) {
            // A region that outlived its rings (a front-end keeping it across a driver reset,
            // which starts new rings at 0): nothing to resubmit, so start over from the base.
            q.set(U16, OFF_USED_IDX, (short) guestUsedIdx);
            out[0] = new Recovery(new int[0], guestUsedIdx, true);
            return new InflightQueue(q, ringSize, maxCounter(q, ringSize) + 1);
        }
        if (lastBatch != 0) {
            // The last batch reached the used ring but its flags were not cleared: walk its list.
            if (lastBatch > ringSize) {
                throw new InflightException("used index " + guestUsedIdx + " is " + lastBatch
                        + " entries ahead of the region's " + recordedUsed + " (ring of " + ringSize + ")");
            }
            int[] heads = new int[lastBatch];
            int h = Short.toUnsignedInt(q.get(U16, OFF_LAST_BATCH_HEAD));
            for (int i = 0; i < lastBatch; i++) {
                if (h >= ringSize) {
                    throw new InflightException("last batch list names head " + h + " of a " + ringSize + "-entry ring");
                }
                heads[i] = h;
                h = Short.toUnsignedInt(q.get(U16, desc(h) + DESC_OFF_NEXT));
            }
            for (int head : heads) {
                q.set(ValueLayout.JAVA_BYTE, desc(head) + DESC_OFF_INFLIGHT, (byte) 0);
            }
            VarHandle.storeStoreFence();
            q.set(U16, OFF_USED_IDX, (short) guestUsedIdx);
        }
        int n = 0;
        long[] keys = new long[ringSize];
        long[] counters = new long[ringSize];
        for (int head = 0; head < ringSize; head++) {
            byte f = q.get(ValueLayout.JAVA_BYTE, desc(head) + DESC_OFF_INFLIGHT);
            if (f == 0) {
                continue;
            }
            if (f != 1) {
                throw new InflightException("head " + head + " has inflight flag " + (f & 0xFF));
            }
            counters[n] = q.get(U64, desc(head) + DESC_OFF_COUNTER);
            keys[n] = head;
            n++;
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        long[] c = counters;
        Arrays.sort(order, (a, b) -> Long.compareUnsigned(c[a], c[b]));
        int[] resubmit = new int[n];
        long max = 0;
        for (int i = 0; i < n; i++) {
            resubmit[i] = (int) keys[order[i]];
            long ci = c[order[i]];
            if (i > 0 && ci == c[order[i - 1]]) {
                throw new InflightException("heads " + resubmit[i - 1] + " and " + resubmit[i] + " have the same counter " + ci);
            }
            max = ci;
        }
        if (n > 0 && max == -1L) {
            throw new InflightException("counter at its maximum value");
        }
        out[0] = new Recovery(resubmit, (guestUsedIdx + n) & 0xFFFF, false);
        return new InflightQueue(q, ringSize, n == 0 ? 1 : max + 1);
    }

    private static boolean nothingInFlight(MemorySegment q, int ringSize) {
        for (int head = 0; head < ringSize; head++) {
            if (q.get(ValueLayout.JAVA_BYTE, desc(head) + DESC_OFF_INFLIGHT) != 0) {
                return false;
            }
        }
        return true;
    }

    private static long maxCounter(MemorySegment q, int ringSize) {
        long max = 0;
        for (int head = 0; head < ringSize; head++) {
            long c = q.get(U64, desc(head) + DESC_OFF_COUNTER);
            if (Long.compareUnsigned(c, max) > 0) {
                max = c;
            }
        }
        return max == -1L ? 0 : max;
    }

    /** A head was taken from the avail ring (before the request is executed). */
    void popped(int head) {
        long d = desc(head);
        q.set(U64, d + DESC_OFF_COUNTER, counter++);
        // Release: the counter (and earlier pops' flags) before this flag. The region's
        // alignment is the front-end's choice, so a fence and a plain store, not setRelease.
        VarHandle.releaseFence();
        q.set(ValueLayout.JAVA_BYTE, d + DESC_OFF_INFLIGHT, (byte) 1);
    }

    /** A used element for {@code head} was written (not yet published). */
    void used(int head) {
        int last = batchLength == 0 ? head : batch[batchLength - 1];
        q.set(U16, desc(head) + DESC_OFF_NEXT, (short) last);
        q.set(U16, OFF_LAST_BATCH_HEAD, (short) head);
        if (batchLength < batch.length) {
            batch[batchLength++] = head;
        }
    }

    /** The used index {@code usedIdx} was stored into the ring: the batch is no longer in flight. */
    void published(int usedIdx) {
        if (batchLength == 0) {
            return;
        }
        VarHandle.storeStoreFence();
        for (int i = 0; i < batchLength; i++) {
            q.set(ValueLayout.JAVA_BYTE, desc(batch[i]) + DESC_OFF_INFLIGHT, (byte) 0);
        }
        batchLength = 0;
        VarHandle.releaseFence();
        q.set(U16, OFF_USED_IDX, (short) usedIdx);
    }

    /** The next counter value (tests). */
    long counter() {
        return counter;
    }
}
