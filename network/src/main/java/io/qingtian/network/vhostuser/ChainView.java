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

    /** Summed while the chain was walked. */
    @Override
    public long readableBytes() {
        return chain.readableBytes();
    }

    @Override
    public long writableBytes() {
        return chain.writableBytes();
    }

    @Override
    public long length(int i) {
        return chain.length(i);
    }

    @Override
    public void copyTo(int i, long offset, byte[] dst, int dstOffset, int len) {
        chain.copyTo(i, offset, dst, dstOffset, len);
    }

    @Override
    public void copyFrom(byte[] src, int srcOffset, int i, long offset, int len) {
        chain.copyFrom(src, srcOffset, i, offset, len);
    }
}
