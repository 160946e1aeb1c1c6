package io.qingtian.network.vswitch;

/**
 * An open-addressing hash map from a packed flow key to an expiry time, allocation-free on
 * lookup and insert (linear probing, backward-shift deletion). Bounded: when full of live
 * entries an insert fails and the caller drops the packet ({@code CONNTRACK_FULL}) rather
 * than letting one guest grow the card's memory without limit.
 */
final class FlowTable {
    private final long[] keys;
    private final long[] expiry;
    private final boolean[] used;
    private final int mask;
    private final int maxEntries;
    private int size;

    FlowTable(int maxEntries) {
        int cap = Integer.highestOneBit(Math.max(16, maxEntries * 2 - 1)) << 1;
        keys = new long[cap];
        expiry = new long[cap];
        used = new boolean[cap];
        mask = cap - 1;
        this.maxEntries = maxEntries;
    }

    int size() {
        return size;
    }

    private static int hash(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        return (int) k;
    }

    /** True if {@code key} is present and not expired at {@code now}. */
    boolean live(long key, long now) {
        for (int i = hash(key) & mask; used[i]; i = (i + 1) & mask) {
            if (keys[i] == key) {
                if (expiry[i] - now > 0) {
                    return true;
                }
                removeAt(i);
                return false;
            }
        }
        return false;
    }

    /** Inserts or refreshes; false if the table is full of live flows. */
    boolean put(long key, long deadline, long now) {
        int i = hash(key) & mask;
        for (; used[i]; i = (i + 1) & mask) {
            if (keys[i] == key) {
                expiry[i] = deadline;
                return true;
            }
        }
        if (size >= maxEntries) {
            sweep(now);
            if (size >= maxEntries) {
                return false;
            }
            return put(key, deadline, now);
        }
        used[i] = true;
        keys[i] = key;
        expiry[i] = deadline;
        size++;
        return true;
    }

    /** Removes every entry whose key's upper 32 bits are {@code high} (a remote IP in conntrack keys). */
    void removeHigh(int high) {
        for (int i = 0; i <= mask; i++) {
            while (used[i] && (int) (keys[i] >>> 32) == high) {
                removeAt(i);
            }
        }
    }

    /** Removes every expired entry. */
    void sweep(long now) {
        for (int i = 0; i <= mask; i++) {
            while (used[i] && expiry[i] - now <= 0) {
                removeAt(i);
            }
        }
    }

    private void removeAt(int i) {
        used[i] = false;
        size--;
        // Backward-shift: move later entries of the probe run into the hole.
        int hole = i;
        for (int j = (i + 1) & mask; used[j]; j = (j + 1) & mask) {
            int home = hash(keys[j]) & mask;
            boolean between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!between) {
                keys[hole] = keys[j];
                expiry[hole] = expiry[j];
                used[hole] = true;
                used[j] = false;
                hole = j;
            }
        }
    }
}
