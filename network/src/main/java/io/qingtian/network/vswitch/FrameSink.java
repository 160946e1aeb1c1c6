package io.qingtian.network.vswitch;

/**
 * Where the switch puts frames for one port: a vhost-user-net receive queue, a TAP device,
 * or a list in a test. Called with the switch lock held: implementations copy the frame
 * out before returning and must not block.
 */
@FunctionalInterface
public interface FrameSink {
    /** Returns false if the frame could not be taken (no receive buffers, link down). */
    boolean transmit(byte[] frame, int offset, int length);
}
