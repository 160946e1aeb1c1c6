package io.qingtian.card.export;

import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * Serves a volume to a VM as a block device. The card's only implementation is vhost-user-blk
 * (the vhost-user module's VhostUserBlkServer); the interface keeps the volume manager
 * independent of that module's API and lets tests of the export state machine run without a VM.
 */
public interface BlockExporter {
    Export start(Path socket, BlockBackend backend, int queues, boolean readOnly) throws IOException;

    /**
     * A running export; closing it disconnects the frontend and stops its queue workers. Close
     * waits a bounded time: a request stuck in the backend may still be running when it
     * returns, and the backend must then stay open until {@link #terminated()}.
     */
    interface Export extends AutoCloseable {
        @Override
        void close() throws IOException;

        /** Completes when no request of this export can touch the backend any more. */
        default CompletableFuture<Void> terminated() {
            return CompletableFuture.completedFuture(null);
        }

        /** Human-readable counters for {@code volume list}/logs. */
        String stats();
    }
}
