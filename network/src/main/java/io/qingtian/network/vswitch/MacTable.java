package io.qingtian.network.vswitch;

/**
 * The learned MAC → port table of one subnet (the L2 domain). Entries are learned from
 * source addresses of frames that passed anti-spoofing, so a guest can only ever teach the
 * switch its own MAC; they age out after 300 s (IEEE 802.1D default) and are forgotten at
 * once when a port is removed. Lookups allocate nothing.
 */
final class MacTable {
    static final long AGING_NANOS = 300_000_000_000L;
    private static final int MAX_ENTRIES = 4096;

    private long[] macs = new long[64];
    private Port[] ports = new Port[64];
    private long[] seen = new long[64];
    private int size;

    private static int hash(long k) {
        k ^= k >>> 29;
        k *= 0xbf58476d1ce4e5b9L;
        k ^= k >>> 32;
        return (int) k;
    }

    void learn(long mac, Port port, long now) {
        int mask = macs.length - 1;
        int i = hash(mac) & mask;
        for (; ports[i] != null; i = (i + 1) & mask) {
            if (macs[i] == mac) {
                ports[i] = port;
                seen[i] = now;
                return;
            }
        }
        if (size >= MAX_ENTRIES) {
            return; // a full table degrades to flooding, never to unbounded memory
        }
        macs[i] = mac;
        ports[i] = port;
        seen[i] = now;
        size++;
        if (size * 2 > macs.length) {
            rehash(macs.length * 2, null);
        }
    }

    /** The port that owns {@code mac}, or null if unknown or aged out. */
    Port lookup(long mac, long now) {
        int mask = macs.length - 1;
        for (int i = hash(mac) & mask; ports[i] != null; i = (i + 1) & mask) {
            if (macs[i] == mac) {
                return now - seen[i] < AGING_NANOS ? ports[i] : null;
            }
        }
        return null;
    }

    /** Forgets every entry pointing at {@code gone}. */
    void forget(Port gone) {
        rehash(macs.length, gone);
    }

    int size() {
        return size;
    }

    private void rehash(int capacity, Port without) {
        long[] om = macs;
        Port[] op = ports;
        long[] os = seen;
        macs = new long[capacity];
        ports = new Port[capacity];
        seen = new long[capacity];
        size = 0;
        int mask = capacity - 1;
        for (int j = 0; j < om.length; j++) {
            if (op[j] != null && op[j] != without) {
                int i = hash(om[j]) & mask;
                while (ports[i] != null) {
                    i = (i + 1) & mask;
                }
                macs[i] = om[j];
                ports[i] = op[j];
                seen[i] = os[j];
                size++;
            }
        }
    }
}
