package io.qingtian.network.virtionet;

import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.EtherType;
import io.qingtian.network.vswitch.FrameBurst;
import io.qingtian.network.vswitch.FrameSink;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The virtio-net device of one switch port (virtio 1.2 §5.1), independent of the transport:
 * {@link #transmitChain} takes a chain from the guest's transmit queue into the switch, and
 * {@link #transmit} (the port's {@link FrameSink}) writes a frame from the switch into the
 * guest's receive queue, spreading it over several buffers when mergeable receive buffers
 * were negotiated (§5.1.6.3.2, {@code num_buffers}).
 *
 * <p>Guest input is hostile: a header with offload flags we did not offer, a chain too short
 * for the header or longer than the MTU is dropped and counted on the port, never switched.
 */
public final class VirtioNetPort implements FrameSink {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int MAX_RX_CHAINS = 64;
    /** Frames written into the receive ring before its used index is published anyway. */
    private static final int MAX_DEFERRED = 32;
    /**
     * A burst of large frames is handed over at this many bytes, before it reaches {@link
     * FrameBurst#MAX} frames: its frames are copied in and read again by the switch and the copy
     * out, and should still be in the core's level-1 data cache then (32–48 KiB).
     */
    private static final int BURST_BYTES = 16 * 1024;
    /**
     * The receive header of a frame in one buffer (§5.1.6.4): no flags, GSO_NONE, num_buffers 1
     * (the legacy 10-byte header is its first 10 bytes). Never written.
     */
    private static final byte[] HDR_ONE_BUFFER = new byte[VirtioNet.HDR_LEN];

    static {
        HDR_ONE_BUFFER[VirtioNet.HDR_NUM_BUFFERS_OFFSET] = 1;
    }

    private final VirtualSwitch sw;
    private final Port port;
    /** The transmit worker's copy of a transmit chain's header. */
    private final byte[] hdr = new byte[VirtioNet.HDR_LEN];
    /**
     * The receive header, built under the port's lock by whichever thread delivers to it:
     * not {@link #hdr}, which this port's own transmit worker fills at the same time.
     */
    private final byte[] rxHdr = new byte[VirtioNet.HDR_LEN];
    /** Frames the transmit worker copied out of its chains and has not handed to the switch yet. */
    private final FrameBurst burst = new FrameBurst();
    /** Whether the frames in {@link #burst} were shaped (their tokens taken) rather than policed. */
    private boolean burstShaped;
    /** Bytes of the frames in {@link #burst}. */
    private int burstBytes;
    private final byte[] txFrame = new byte[EtherType.MAX_FRAME];
    private final NetChain[] rxChains = new NetChain[MAX_RX_CHAINS];
    private final int[] rxLens = new int[MAX_RX_CHAINS];
    private volatile long features;
    /**
     * The receive side: {@link #rx}, {@link #rxHdr}, {@link #deferred} and {@link #inBatch} are
     * guarded by the switch port's lock ({@link Port}), the one the switch holds while it
     * delivers to this port, so a delivery takes one lock, not two.
     */
    private RxRing rx;
    /** Frames in {@link #rx} not yet published (see {@link RxBatch}). */
    private int deferred;
    /** Whether some thread's {@link RxBatch} will publish this port. */
    private boolean inBatch;

    public VirtioNetPort(VirtualSwitch sw, Port port) {
        this.sw = sw;
        this.port = port;
    }

    public Port port() {
        return port;
    }

    /** The driver's accepted features (SET_FEATURES). */
    public void setFeatures(long accepted) {
        features = accepted & (VirtioNet.OFFERED_FEATURES | 0xffff_ffff_0000_0000L);
    }

    public long features() {
        return features;
    }

    /** Header size: 12 bytes with VERSION_1 or MRG_RXBUF, the legacy 10 otherwise (§5.1.6). */
    public int headerLength() {
        long f = features;
        return (f & (VirtioNet.bit(VirtioNet.F_VERSION_1) | VirtioNet.bit(VirtioNet.F_MRG_RXBUF))) != 0 ? 12 : 10;
    }

    /** Connects the receive queue (ring started) or disconnects it (null): the link follows. */
    public void setRxRing(RxRing ring) {
        synchronized (port) {
            if (rx != null) {
                rx.release(); // the old ring's driver gets every frame written into it, and its unused buffers
            }
            deferred = 0;
            rx = ring;
            try {
                if (ring != null) {
                    sw.attach(port.name(), this);
                } else {
                    sw.detach(port.name());
                }
            } catch (io.qingtian.network.NetworkException deleted) {
                // The NIC was deleted while its front-end was connected: nothing to attach to.
            }
        }
    }

    /** §5.1.4 config space: MAC, status (link up while the port is attached), one queue pair, MTU. */
    public byte[] readConfig(int offset, int size) {
        byte[] cfg = new byte[VirtioNet.CONFIG_LEN];
        port.mac().write(cfg, VirtioNet.CONFIG_MAC);
        int status = port.linkUp() ? VirtioNet.S_LINK_UP : 0;
        cfg[VirtioNet.CONFIG_STATUS] = (byte) status;
        cfg[VirtioNet.CONFIG_MAX_VQ_PAIRS] = 1;
        cfg[VirtioNet.CONFIG_MTU] = (byte) (EtherType.MTU & 0xff);
        cfg[VirtioNet.CONFIG_MTU + 1] = (byte) (EtherType.MTU >>> 8);
        if (offset < 0 || size < 0 || offset + size > 256) {
            return null;
        }
        byte[] out = new byte[size];
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            out[i] = o < cfg.length ? cfg[o] : 0;
        }
        return out;
    }

    /**
     * One chain from the transmit queue: header + frame in the driver-readable buffers.
     * Returns the used length (0: the device writes nothing into a transmit chain).
     */
    public int transmitChain(NetChain chain) {
        return transmitChain(chain, false);
    }

    /**
     * Rate limits of this port shape its transmit queue (the guest's ring fills up and its
     * qdisc backs off, as with a real NIC) instead of dropping: how long the worker should
     * wait before handing this chain over with {@code transmitChain(chain, true)}.
     */
    public long shapingDelay(NetChain chain) {
        if (port.rateLimit().unlimited()) {
            // Most ports: no lock for nothing. The limit is a volatile field: one set just now
            // is seen by the next frame.
            return 0;
        }
        long total = chain.readableBytes();
        int frameLen = (int) Math.max(0, Math.min(EtherType.MAX_FRAME, total - headerLength()));
        return sw.shapingDelay(port, frameLen);
    }


    /** As {@link #transmitChain(NetChain)}; {@code shaped}: tokens already taken by {@link #shapingDelay}. */
    public int transmitChain(NetChain chain, boolean shaped) {
        int frameLen = copyFrame(chain, txFrame);
        if (frameLen >= 0) {
            if (shaped) {
                sw.fromShapedPort(port, txFrame, frameLen, sw.now());
            } else {
                sw.fromPort(port, txFrame, frameLen, sw.now());
            }
        }
        return 0;
    }

    /**
     * {@link #transmitChain(NetChain, boolean)} for the transmit worker: the frame is copied
     * out of the chain (the chain can be completed at once) into the port's {@link FrameBurst},
     * which the switch takes when it is full or at {@link #endBurst}, which the worker calls at
     * the end of every burst and before it waits, so a frame waits at most for the rest of its
     * burst. The burst is switched at one reading of the switch's clock: conntrack and MAC
     * aging count in seconds, and a clock read was ≈ 8 % of a frame's cost.
     */
    public int transmitInBurst(NetChain chain, boolean shaped) {
        if (shaped != burstShaped && burst.size() > 0) {
            endBurst();
        }
        burstShaped = shaped;
        byte[] buf = burst.buffer();
        int frameLen = copyFrame(chain, buf);
        if (frameLen >= 0) {
            burst.add(frameLen);
            burstBytes += frameLen;
            if (burst.isFull() || burstBytes >= BURST_BYTES) {
                endBurst();
            }
        }
        return 0;
    }

    /**
     * Copies the frame of a transmit chain (after its virtio-net header) into {@code frame};
     * returns its length, or -1 when the chain was dropped (bad header, oversized: counted).
     */
    private int copyFrame(NetChain chain, byte[] frame) {
        int hlen = headerLength();
        long total = chain.readableBytes();
        int frameLen = (int) Math.min(Integer.MAX_VALUE, total - hlen);
        if (total < hlen) {
            sw.dropFromPort(port, (int) total, DropReason.BAD_VIRTIO_HEADER);
            return -1;
        }
        if (frameLen > frame.length) {
            sw.dropFromPort(port, frameLen, DropReason.OVERSIZED);
            return -1;
        }
        if (chain.count() == 1) {
            // The usual transmit chain: header and frame in one buffer.
            chain.copyTo(0, 0, hdr, 0, hlen);
            chain.copyTo(0, hlen, frame, 0, frameLen);
        } else {
            int pos = 0; // logical offset in header + frame
            for (int i = 0; i < chain.count(); i++) {
                if (chain.isWritable(i)) {
                    continue;
                }
                int n = (int) chain.length(i);
                int o = 0;
                if (pos < hlen) {
                    int h = Math.min(n, hlen - pos);
                    chain.copyTo(i, 0, hdr, pos, h);
                    o = h;
                    pos += h;
                }
                if (o < n) {
                    chain.copyTo(i, o, frame, pos - hlen, n - o);
                    pos += n - o;
                }
            }
        }
        // §5.1.6.2: without CSUM/GSO offered, the driver must not ask for either; and it
        // must never set DATA_VALID or RSC_INFO on transmit (§5.1.6.2.1).
        if (hdr[0] != 0 || hdr[1] != VirtioNet.GSO_NONE) {
            sw.dropFromPort(port, frameLen, DropReason.BAD_VIRTIO_HEADER);
            return -1;
        }
        return frameLen;
    }

    /**
     * The transmit worker finished a burst (or is about to wait, or stops): the frames it
     * handed over are switched now.
     */
    public void endBurst() {
        if (burst.size() > 0) {
            sw.fromPortBurst(port, burst, !burstShaped, sw.now());
        }
        burstBytes = 0;
    }

    /** A transmit chain the queue rejected (loop, out of memory bounds...): counted, not switched. */
    public void badChain() {
        sw.dropFromPort(port, 0, DropReason.BAD_VIRTIO_HEADER);
    }

    /**
     * Called by the switch with the port's lock held (taken again here, re-entrantly, for other
     * callers): writes one frame into the receive queue.
     */
    @Override
    public boolean transmit(byte[] frame, int offset, int length) {
        synchronized (port) {
            return write(frame, offset, length);
        }
    }

    private boolean write(byte[] frame, int offset, int length) {
        RxRing r = rx;
        if (r == null) {
            return false;
        }
        int hlen = headerLength();
        boolean mergeable = (features & VirtioNet.bit(VirtioNet.F_MRG_RXBUF)) != 0;
        int need = hlen + length;
        int chains = 0;
        int capacity = 0;
        NetChain first = r.pop();
        if (first == null) {
            return false;
        }
        if (first.count() == 1 && first.isWritable(0) && first.length(0) >= need) {
            // The usual receive buffer: one writable descriptor that holds header and frame.
            // No loops, a header prepared once.
            first.copyFrom(HDR_ONE_BUFFER, 0, 0, 0, hlen);
            first.copyFrom(frame, offset, 0, hlen, length);
            r.addUsed(first.head(), need);
            r.endFrame();
            publishOrDefer(r);
            return true;
        }
        rxChains[chains++] = first;
        capacity += (int) Math.min(first.writableBytes(), 1 << 20);
        while (capacity < need) {
            if (chains == MAX_RX_CHAINS || (chains == 1 && !mergeable)) {
                break;
            }
            NetChain c = r.pop();
            if (c == null) {
                break;
            }
            rxChains[chains++] = c;
            capacity += (int) Math.min(c.writableBytes(), 1 << 20); // 64 chains × 1 MiB fit an int
        }
        if (capacity < need) {
            if (chains > 0 && !mergeable && capacity > 0) {
                // A legacy-sized buffer too small for this frame: the driver violated
                // §5.1.6.3.1 (buffers of at least 1526 bytes). Return it empty, drop the frame.
                r.addUsed(rxChains[0].head(), 0);
                r.endFrame();
                r.publish();
                deferred = 0;
            } else if (chains > 0) {
                r.rewind(chains);
            }
            clear(chains);
            return false;
        }
        // Header: flags 0, gso NONE, num_buffers = chains used (§5.1.6.4).
        java.util.Arrays.fill(rxHdr, (byte) 0);
        if (hlen == VirtioNet.HDR_LEN) {
            rxHdr[VirtioNet.HDR_NUM_BUFFERS_OFFSET] = (byte) chains;
            rxHdr[VirtioNet.HDR_NUM_BUFFERS_OFFSET + 1] = (byte) (chains >>> 8);
        }
        int pos = 0; // logical offset in header + frame
        for (int k = 0; k < chains; k++) {
            NetChain c = rxChains[k];
            int written = 0;
            for (int i = 0; i < c.count() && pos < need; i++) {
                if (!c.isWritable(i)) {
                    continue;
                }
                int n = (int) Math.min(c.length(i), need - pos);
                int o = 0;
                if (pos < hlen) {
                    int h = Math.min(n, hlen - pos);
                    c.copyFrom(rxHdr, pos, i, 0, h);
                    o = h;
                    pos += h;
                }
                if (o < n) {
                    c.copyFrom(frame, offset + pos - hlen, i, o, n - o);
                    pos += n - o;
                }
                written += n;
            }
            rxLens[k] = written;
        }
        for (int k = 0; k < chains; k++) {
            r.addUsed(rxChains[k].head(), rxLens[k]);
        }
        r.endFrame();
        publishOrDefer(r);
        clear(chains);
        return true;
    }

    /** Publishes now, or at the end of the calling thread's burst when it is in an {@link RxBatch}. */
    private void publishOrDefer(RxRing r) {
        if (inBatch) {
            // A burst (usually this thread's) already deferred this ring and publishes it at
            // its end, within a completion batch: no need to look up the thread's batch.
            if (++deferred >= MAX_DEFERRED) {
                r.publish();
                deferred = 0;
            }
            return;
        }
        RxBatch batch = RxBatch.current();
        if (batch == null) {
            r.publish();
            deferred = 0;
            return;
        }
        deferred++;
        inBatch = true;
        batch.add(this);
    }

    /** Called by an {@link RxBatch} at the end of its burst. */
    void publishDeferred() {
        synchronized (port) {
            inBatch = false;
            if (rx != null && deferred > 0) {
                rx.publish();
            }
            deferred = 0;
        }
    }

    private void clear(int n) {
        for (int i = 0; i < n; i++) {
            rxChains[i] = null;
        }
    }

    static int u16(MemorySegment s, long off) {
        return Short.toUnsignedInt(s.get(U16, off));
    }
}
