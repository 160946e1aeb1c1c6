package io.qingtian.card.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our NBD client against the real qemu-nbd; qemu-io as the independent second client. */
@Tag("qemu")
class NbdBackendQemuTest {
    static final int SIZE = 8 << 20;

    @TempDir
    Path dir;

    Path image() throws IOException {
        Path f = dir.resolve("remote.img");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(SIZE);
        }
        return f;
    }

    @Test
    void concurrentWritesFromSeveralQueuesLandOnTheServer() throws Exception {
        Path img = image();
        byte[] expected = new byte[SIZE];
        try (QemuNbd server = new QemuNbd(img, "vol");
                NbdBackend nbd = NbdBackend.connect(server.target(), false, "nbd-test");
                Arena arena = Arena.ofShared()) {
            assertThat(nbd.sizeBytes()).isEqualTo(SIZE);
            assertThat(nbd.readOnly()).isFalse();
            ExecutorService queues = Executors.newFixedThreadPool(4);
            List<Future<?>> done = new ArrayList<>();
            for (int q = 0; q < 4; q++) {
                int queue = q;
                // Each queue owns a quarter of the disk: requests interleave on the wire.
                MemorySegment buf = arena.allocate(64 << 10, 4096);
                done.add(queues.submit(() -> {
                    Random rnd = new Random(queue);
                    for (int i = 0; i < 32; i++) {
                        int len = (1 + rnd.nextInt(128)) * 512;
                        long off = queue * (SIZE / 4L) + rnd.nextInt((SIZE / 4 - len) / 512) * 512L;
                        byte[] data = new byte[len];
                        rnd.nextBytes(data);
                        MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, len);
                        nbd.write(off, buf.asSlice(0, len));
                        synchronized (expected) {
                            System.arraycopy(data, 0, expected, (int) off, len);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            queues.shutdown();
            nbd.flush();
            // Read back through our client, from several threads at once.
            MemorySegment all = arena.allocate(SIZE);
            nbd.read(0, all);
            assertThat(all.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(expected);
        }
        assertThat(Files.readAllBytes(img)).isEqualTo(expected);
    }

    @Test
    void readsWhatQemuIoWroteAndZeroesRanges() throws Exception {
        Path img = image();
        try (QemuNbd server = new QemuNbd(img, "vol")) {
            Process io = new ProcessBuilder("qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 64k", server.uri())
                    .redirectErrorStream(true).start();
            String out = new String(io.getInputStream().readAllBytes());
            assertThat(io.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(io.exitValue()).as(out).isZero();
            try (NbdBackend nbd = NbdBackend.connect(server.target(), false, "nbd-test"); Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(128 << 10);
                nbd.read((1 << 20) - (32 << 10), buf);
                for (long i = 0; i < buf.byteSize(); i++) {
                    byte want = (i >= 32 << 10 && i < 96 << 10) ? (byte) 0x5a : 0;
                    assertThat(buf.get(ValueLayout.JAVA_BYTE, i)).as("byte %d", i).isEqualTo(want);
                }
                nbd.writeZeroes(1 << 20, 4096, false);
                nbd.trim((1 << 20) + 8192, 8192);
                nbd.flush();
            }
            Process check = new ProcessBuilder("qemu-io", "-f", "raw", "-r", "-c", "read -P 0 1M 4k",
                    "-c", "read -P 0x5a 1052672 4k", img.toString()).redirectErrorStream(true).start();
            String checkOut = new String(check.getInputStream().readAllBytes());
            assertThat(check.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(checkOut).doesNotContain("Pattern verification failed");
            assertThat(check.exitValue()).as(checkOut).isZero();
        }
    }

    @Test
    void unknownExportIsAClearError() throws Exception {
        try (QemuNbd server = new QemuNbd(image(), "vol")) {
            assertThatThrownBy(() -> NbdBackend.connect(new NbdTarget("127.0.0.1", server.port, "nope"), false, "x"))
                    .isInstanceOf(IOException.class).hasMessageContaining("refused export 'nope'");
        }
    }

    @Test
    void serverDeathFailsRequestsInsteadOfHanging() throws Exception {
        QemuNbd server = new QemuNbd(image(), "vol");
        try (NbdBackend nbd = NbdBackend.connect(server.target(), false, "x"); Arena arena = Arena.ofConfined()) {
            server.process.destroyForcibly().waitFor();
            MemorySegment buf = arena.allocate(4096);
            assertThatThrownBy(() -> {
                for (int i = 0; i < 100; i++) {
                    nbd.read(0, buf);
                }
            }).isInstanceOf(IOException.class);
        } finally {
            server.close();
        }
    }
}
