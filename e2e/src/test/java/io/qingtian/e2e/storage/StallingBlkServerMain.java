package io.qingtian.e2e.storage;

import io.qingtian.virtio.blk.BlockBackend;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A card stand-in run as its own JVM so a test can SIGKILL it: a {@link VhostUserBlkServer}
 * over a file whose first write at byte offset {@code stallOffset} never returns (a request
 * provably in flight when the process dies). Prints {@code QT-STALLED} when that write
 * blocks and {@code QT-WROTE offset} after every other write, flushed, on stdout.
 *
 * <p>Arguments: socket, disk file, disk size, stall offset, inflight (true/false).
 */
public final class StallingBlkServerMain {
    private StallingBlkServerMain() {}

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        long size = Long.parseLong(args[2]);
        long stallOffset = Long.parseLong(args[3]);
        boolean inflight = Boolean.parseBoolean(args[4]);
        VhostUserFileDisk file = new VhostUserFileDisk(Path.of(args[1]), size, "qt-inflight");
        BlockBackend stalling = new BlockBackend() {
            private volatile boolean stalled;

            @Override public long sizeBytes() { return file.sizeBytes(); }
            @Override public boolean readOnly() { return false; }
            @Override public String serial() { return file.serial(); }
            @Override public void read(long offset, MemorySegment dst) { file.read(offset, dst); }
            @Override public void flush() { file.flush(); }
            @Override public void discard(long offset, long length) { file.discard(offset, length); }
            @Override public void writeZeroes(long offset, long length, boolean unmap) { file.writeZeroes(offset, length, unmap); }
            @Override public void close() { file.close(); }

            /** Requests are handed to helper threads when others wait behind them: completions come out of order. */
            @Override public boolean blocking() { return true; }

            @Override
            public void write(long offset, MemorySegment src) throws IOException {
                if (offset == stallOffset && !stalled) {
                    stalled = true;
                    System.out.println("QT-STALLED " + offset);
                    System.out.flush();
                    while (true) {
                        try {
                            Thread.sleep(60_000);
                        } catch (InterruptedException e) {
                            // a dead card does not wake up
                        }
                    }
                }
                file.write(offset, src);
                System.out.println("QT-WROTE " + offset);
                System.out.flush();
            }
        };
        VhostUserBlkServer.start(socket, stalling, 1, false, inflight);
        System.out.println("QT-LISTENING");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
