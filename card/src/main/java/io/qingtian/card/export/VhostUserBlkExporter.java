package io.qingtian.card.export;

import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import io.qingtian.virtio.blk.BlockBackend;
import java.nio.file.Path;

/** Exports a volume as a vhost-user-blk device: one socket, one worker per queue (vhost-user module). */
public final class VhostUserBlkExporter implements BlockExporter {
    @Override
    public Export start(Path socket, BlockBackend backend, int queues, boolean readOnly) {
        VhostUserBlkServer server = VhostUserBlkServer.start(socket, backend, queues, readOnly);
        return new Export() {
            @Override
            public void close() {
                server.close(); // finishes in-flight requests; the volume manager then flushes the backend
            }

            @Override
            public java.util.concurrent.CompletableFuture<Void> terminated() {
                return server.terminated();
            }

            @Override
            public String stats() {
                return server.stats().toString();
            }
        };
    }
}
