package io.qingtian.card.export;

import io.qingtian.sys.UserError;
import io.qingtian.virtio.blk.BlockBackend;
import java.nio.file.Path;

/** Stands in until the vhost-user-blk server is part of the build. */
public final class UnavailableExporter implements BlockExporter {
    @Override
    public Export start(Path socket, BlockBackend backend, int queues, boolean readOnly) {
        throw new UserError("vhost-user-blk export is not available in this build");
    }
}
