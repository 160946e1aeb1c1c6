package io.qingtian.card.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.card.crypto.MasterKey;
import io.qingtian.card.export.BlockExporter;
import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An export whose close gave up on a request stuck in the volume's backend (see
 * VhostUserBackend.close): the volume manager goes on, but closes the backend only once the
 * export's threads have really stopped, never under a request that still runs.
 */
class StuckExportTest {
    @TempDir
    Path dir;

    /** An exporter whose exports report "still running" until the test says otherwise. */
    static final class StuckExporter implements BlockExporter {
        final CompletableFuture<Void> stopped = new CompletableFuture<>();
        final AtomicReference<BlockBackend> served = new AtomicReference<>();

        @Override
        public Export start(Path socket, BlockBackend backend, int queues, boolean readOnly) {
            served.set(backend);
            return new Export() {
                @Override
                public void close() {}

                @Override
                public CompletableFuture<Void> terminated() {
                    return stopped;
                }

                @Override
                public String stats() {
                    return "stuck";
                }
            };
        }
    }

    private static void read(BlockBackend b) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(512);
            b.read(0, buf);
        }
    }

    /** A volume manager with volume "v" exported through {@code exporter}. */
    private VolumeManager exportedVolume(StuckExporter exporter) throws IOException {
        VolumeManager vm = new VolumeManager(new VolumeStore(dir.resolve("volumes")), MasterKey.loadOrCreate(dir.resolve("keys")),
                exporter);
        vm.create(new VolumeManager.CreateSpec("v", 1L << 20, false, null, null, null));
        vm.export("v", dir.resolve("v.sock"), 1, false);
        return vm;
    }

    @Test
    void theBackendStaysOpenUntilTheStuckExportStops() throws Exception {
        StuckExporter exporter = new StuckExporter();
        VolumeManager vm = exportedVolume(exporter);
        BlockBackend backend = exporter.served.get();

        vm.unexport("v"); // returns although the export has not stopped
        read(backend); // the request still running can finish: nothing was closed under it

        exporter.stopped.complete(null); // its threads are gone now
        assertThatThrownBy(() -> read(backend)).as("closed once the export stopped").isInstanceOf(IOException.class);
    }

    @Test
    void cardShutdownDoesNotWaitForAStuckExport() throws Exception {
        StuckExporter exporter = new StuckExporter();
        VolumeManager vm = exportedVolume(exporter);
        vm.close();
        assertThat(vm.list()).extracting(VolumeInfo::name).containsExactly("v");
        read(exporter.served.get());
        exporter.stopped.complete(null);
        assertThatThrownBy(() -> read(exporter.served.get())).isInstanceOf(IOException.class);
    }
}
