package io.qingtian.network.vswitch;

/**
 * Where the switch puts frames for one port: a vhost-user-net receive queue, a TAP device,
 * or a list in a test. Called with the receiving port's lock held (the {@link Port}, or the
 * {@link Uplink} for an uplink's sink), never the switch's: implementations copy the frame
 * out before returning, must not block, and may synchronize on that port themselves.
 */
@FunctionalInterface
public interface FrameSink {
    /** Returns false if the frame could not be taken (no receive buffers, link down). */
    boolean transmit(byte[] frame, int offset, int length);
}
