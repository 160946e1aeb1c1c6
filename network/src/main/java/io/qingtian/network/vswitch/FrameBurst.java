package io.qingtian.network.vswitch;

import io.qingtian.network.packet.EtherType;
import io.qingtian.network.vswitch.Forwarding.PortView;
import io.qingtian.network.vswitch.Forwarding.SubnetView;

/**
 * Up to {@value #MAX} frames from one port, switched together ({@link VirtualSwitch#fromPortBurst}):
 * one snapshot read, one hold of the sending port's lock for all their sender-side work, and one
 * hold of a receiving port's lock per run of frames to the same receiver, instead of one of each
 * per frame — the packet batches of Open vSwitch's userspace datapath and DPDK's bursts. Owned
 * by one thread (a port's transmit worker): it fills the buffers ({@link #buffer}, {@link #add})
 * and hands the burst to the switch, which empties it.
 *
 * <p>Also the switch's record of what to do with each frame once the sending port's lock is
 * released (the decisions); a single frame uses a one-slot record of the port's.
 */
public final class FrameBurst {
    /** Frames per burst: 32 × 1514 bytes stay within a core's level-1 data cache and below. */
    public static final int MAX = 32;

    static final int DONE = 0;
    static final int UNICAST = 1;
    static final int FLOOD = 2;
    static final int UPLINK = 3;

    private final byte[][] frames;
    final int[] lengths;
    int count;

    // Decisions, written under the sending port's lock, read after it is released.
    final int[] action;
    final PortView[] to;
    final SubnetView[] flood;
    final Uplink[] uplink;
    final int[] proto;
    final int[] srcIp;
    final int[] srcPort;
    final int[] dstPort;

    public FrameBurst() {
        this(MAX, true);
    }

    /** A decision record only (no frame buffers), for single frames. */
    FrameBurst(int capacity, boolean buffers) {
        frames = buffers ? new byte[capacity][EtherType.MAX_FRAME] : null;
        lengths = new int[capacity];
        action = new int[capacity];
        to = new PortView[capacity];
        flood = new SubnetView[capacity];
        uplink = new Uplink[capacity];
        proto = new int[capacity];
        srcIp = new int[capacity];
        srcPort = new int[capacity];
        dstPort = new int[capacity];
    }

    /** The buffer for the next frame ({@value EtherType#MAX_FRAME} bytes); the burst must not be full. */
    public byte[] buffer() {
        return frames[count];
    }

    /** The next frame ({@link #buffer}) holds {@code length} bytes. */
    public void add(int length) {
        lengths[count++] = length;
    }

    public int size() {
        return count;
    }

    public boolean isFull() {
        return count == lengths.length;
    }

    byte[] frame(int k) {
        return frames[k];
    }
}
