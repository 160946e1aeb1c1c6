package io.qingtian.network.virtionet;

/**
 * Receive rings a thread wrote frames into and has not published yet. A transmit worker
 * switches a burst of frames, often all into the same destination ring; publishing that
 * ring's used index (and perhaps signalling its driver) once per burst instead of once per
 * frame spares the receiver a cache-line transfer and a wake-up per frame. A thread opts in
 * with {@link #enter} and must call {@link #flushCurrent} at the end of each burst and before
 * it waits; on any other thread (uplink, control plane) frames are published at once.
 */
public final class RxBatch {
    private static final ThreadLocal<RxBatch> CURRENT = new ThreadLocal<>();

    private VirtioNetPort[] ports = new VirtioNetPort[4];
    private int count;

    private RxBatch() {}

    /** Makes the calling thread defer publication until {@link #flushCurrent}. */
    public static void enter() {
        if (CURRENT.get() == null) {
            CURRENT.set(new RxBatch());
        }
    }

    /** Publishes every ring the calling thread deferred (no-op outside a batch). */
    public static void flushCurrent() {
        RxBatch b = CURRENT.get();
        if (b != null) {
            b.flush();
        }
    }

    static RxBatch current() {
        return CURRENT.get();
    }

    void add(VirtioNetPort port) {
        if (count == ports.length) {
            ports = java.util.Arrays.copyOf(ports, count * 2);
        }
        ports[count++] = port;
    }

    private void flush() {
        for (int i = 0; i < count; i++) {
            ports[i].publishDeferred();
            ports[i] = null;
        }
        count = 0;
    }
}
