package io.qingtian.network.vhostuser;

import io.qingtian.network.virtionet.NetChain;
import io.qingtian.virtio.queue.DescriptorChain;
import java.lang.foreign.MemorySegment;

/** The virtio module's validated {@link DescriptorChain} seen as a {@link NetChain}. */
final class ChainView implements NetChain {
    DescriptorChain chain;

    ChainView(DescriptorChain chain) {
        this.chain = chain;
    }

    @Override
    public int head() {
        return chain.head();
    }

    @Override
    public int count() {
        return chain.count();
    }

    @Override
    public MemorySegment buffer(int i) {
        return chain.buffer(i);
    }

    @Override
    public boolean isWritable(int i) {
        return chain.isWritable(i);
    }
}
