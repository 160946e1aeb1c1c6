package io.qingtian.network.virtionet;

import java.lang.foreign.MemorySegment;

/**
 * The view of one validated descriptor chain the virtio-net device needs: its head and its
 * buffers in order (guest memory, bounds-checked). Mirrors the accessors of the virtio
 * module's DescriptorChain, which adapts to it one-to-one.
 */
public interface NetChain {
    int head();

    int count();

    MemorySegment buffer(int i);

    boolean isWritable(int i);
}
