package io.qingtian.vhostuser.blk;

import io.qingtian.virtio.blk.BlkDevice;
import io.qingtian.virtio.blk.BlkStats;
import io.qingtian.virtio.blk.BlockBackend;
import io.qingtian.virtio.queue.DescriptorChain;
import io.qingtian.vhostuser.backend.VhostUserBackend;
import io.qingtian.vhostuser.backend.VhostUserDevice;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * A vhost-user-blk device: serves a {@link BlockBackend} as a virtio-blk disk on a unix
 * socket, one worker thread per queue, until {@link #close()}. Survives front-end
 * reconnects. The card exports each volume through one of these.
 */
public final class VhostUserBlkServer implements AutoCloseable {
    /** Request counters since start (data bytes only). */
    public record Stats(long reads, long readBytes, long writes, long writeBytes, long flushes,
                        long discards, long discardBytes, long writeZeroes, long writeZeroesBytes,
                        long getIds, long errors, long connections) {}

    private final BlkDevice blk;
    private final VhostUserBackend backend;

    private VhostUserBlkServer(BlkDevice blk, VhostUserBackend backend) {
        this.blk = blk;
        this.backend = backend;
    }

    /**
     * Starts serving {@code backend} on {@code socket} with {@code queues} queues; the disk
     * is read-only when {@code readOnly} or the backend says so. The socket file must not be
     * in use (a stale one is replaced).
     */
    public static VhostUserBlkServer start(Path socket, BlockBackend backend, int queues, boolean readOnly) {
        return start(socket, backend, queues, readOnly, INFLIGHT);
    }

    /**
     * Whether servers offer inflight I/O tracking unless told otherwise: on, {@code
     * -Dqt.vhost.inflight=off} turns it off (to compare, or to work around a front-end that
     * mishandles it).
     */
    public static final boolean INFLIGHT = !"off".equals(System.getProperty("qt.vhost.inflight", "on"));

    /**
     * {@link #start(Path, BlockBackend, int, boolean)}; with {@code inflight} the server offers
     * vhost-user inflight I/O tracking, so that requests in flight when it dies are executed by
     * the server that takes the socket over (a card restart the guest does not notice).
     */
    public static VhostUserBlkServer start(Path socket, BlockBackend backend, int queues, boolean readOnly, boolean inflight) {
        BlkDevice blk = new BlkDevice(backend, queues, readOnly);
        VhostUserDevice device = new VhostUserDevice() {
            @Override
            public int numQueues() {
                return blk.numQueues();
            }

            @Override
            public long features() {
                return blk.features();
            }

            @Override
            public byte[] readConfig(int offset, int size) {
                if (offset < 0 || size < 0) {
                    return null;
                }
                byte[] image = blk.config().toBytes();
                byte[] out = new byte[size];
                if (offset < image.length) {
                    System.arraycopy(image, offset, out, 0, Math.min(size, image.length - offset));
                }
                return out;
            }

            @Override
            public boolean writeConfig(int offset, byte[] data) {
                // Only the writeback field is writable, and only with CONFIG_WCE, not offered.
                return false;
            }

            @Override
            public int process(int queue, DescriptorChain chain) {
                return blk.process(chain);
            }

            @Override
            public boolean tracksInflight() {
                // Block requests are idempotent as a whole: executing again a read, write,
                // flush or discard that may already have run gives the same disk contents.
                return inflight;
            }

            @Override
            public boolean runConcurrently(DescriptorChain chain) {
                return backend.blocking() || VhostUserDevice.super.runConcurrently(chain);
            }
        };
        String name = "vhost-user-blk:" + socket.getFileName();
        return new VhostUserBlkServer(blk, VhostUserBackend.start(socket, device, name));
    }

    public Path socket() {
        return backend.socketPath();
    }

    public boolean readOnly() {
        return blk.readOnly();
    }

    public Stats stats() {
        BlkStats.Snapshot s = blk.stats().snapshot();
        return new Stats(s.reads(), s.readBytes(), s.writes(), s.writeBytes(), s.flushes(), s.discards(),
                s.discardBytes(), s.writeZeroes(), s.writeZeroesBytes(), s.getIds(),
                s.errors() + s.unsupported() + s.malformed(), backend.connections());
    }

    /** Inflight tracking so far (regions created and accepted, requests resubmitted). */
    public VhostUserBackend.InflightStats inflightStats() {
        return backend.inflightStats();
    }

    /** Whether a front-end is connected now. */
    public boolean connected() {
        return backend.connected();
    }

    /**
     * Stops serving: in-flight requests complete, workers stop, the socket file is removed.
     * Waits at most {@link io.qingtian.sys.BoundedWait#SHUTDOWN} (see {@link #close(Duration)}).
     * Does not close the {@link BlockBackend} (its owner does, once {@link #terminated()}).
     */
    @Override
    public void close() {
        backend.close();
    }

    /**
     * {@link #close()} waiting at most {@code bound}; false when a request is still running
     * in the {@link BlockBackend} (reported with the threads involved). The backend must then
     * stay open until {@link #terminated()} completes.
     */
    public boolean close(Duration bound) {
        return backend.close(bound);
    }

    /** Completes when no thread of this server runs any more (no request can touch the backend). */
    public CompletableFuture<Void> terminated() {
        return backend.terminated();
    }

    @Override
    public String toString() {
        return "VhostUserBlkServer[" + backend.socketPath() + ", queues=" + blk.numQueues()
                + (blk.readOnly() ? ", read-only" : "") + "]";
    }
}
