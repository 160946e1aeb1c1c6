package io.qingtian.card.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.card.crypto.AesXts;
import io.qingtian.card.qos.QosBackend;
import io.qingtian.card.qos.Ticker;
import io.qingtian.card.qos.TokenBucket;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackendStackTest {
    @TempDir
    Path tmp;

    Path file(long size) throws IOException {
        Path f = tmp.resolve("v.img");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(size);
        }
        return f;
    }

    @Test
    void encryptedZeroesReadAsZeroesAndAreCiphertextOnDisk() throws Exception {
        byte[] key = new byte[64];
        new Random(3).nextBytes(key);
        Path f = file(1 << 20);
        try (FileBackend fb = FileBackend.open(f, 1 << 20, false, "s");
                EncryptedBackend enc = new EncryptedBackend(fb, new AesXts(key));
                Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(200 << 10);
            data.fill((byte) 0x5a);
            enc.write(4096, data); // spans several 64 KiB chunks
            enc.writeZeroes(8192, 4096, false);
            enc.discard(16384, 512);
            enc.flush();
            MemorySegment back = arena.allocate(200 << 10);
            enc.read(4096, back);
            for (long i = 0; i < back.byteSize(); i++) {
                long at = 4096 + i;
                boolean zero = (at >= 8192 && at < 12288) || (at >= 16384 && at < 16896);
                assertThat(back.get(ValueLayout.JAVA_BYTE, i)).as("byte %d", at).isEqualTo(zero ? (byte) 0 : (byte) 0x5a);
            }
            // The guest's buffer was not encrypted in place.
            assertThat(data.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x5a);
        }
        byte[] disk = Files.readAllBytes(f);
        byte[] zeros = new byte[4096];
        new AesXts(key).encrypt(8192 / 512, zeros, 0, 4096);
        assertThat(java.util.Arrays.copyOfRange(disk, 8192, 12288)).isEqualTo(zeros);
    }

    @Test
    void requestsOutsideTheVolumeOrUnalignedFailCleanly() throws Exception {
        try (FileBackend fb = FileBackend.open(file(1 << 20), 1 << 20, false, "s"); Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(4096);
            assertThatThrownBy(() -> fb.read((1 << 20) - 512, b)).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> fb.write(100, b.asSlice(0, 512))).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> fb.write(Long.MAX_VALUE - 511, b.asSlice(0, 512))).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> fb.writeZeroes(-512, 512, false)).isInstanceOf(IOException.class);
        }
        try (FileBackend ro = FileBackend.open(tmp.resolve("v.img"), 1 << 20, true, "s"); Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> ro.write(0, arena.allocate(512))).isInstanceOf(IOException.class).hasMessageContaining("read-only");
        }
    }

    @Test
    void qosChargesOneOperationAndTheBytesOfEachRequest() throws Exception {
        long[] now = {0};
        Ticker fake = new Ticker() {
            @Override
            public long nanoTime() {
                return now[0];
            }

            @Override
            public void sleepNanos(long nanos) {
                now[0] += nanos;
            }
        };
        try (FileBackend fb = FileBackend.open(file(1 << 20), 1 << 20, false, "s");
                QosBackend q = new QosBackend(fb, new TokenBucket(100, 1, fake), new TokenBucket(1 << 20, 4096, fake));
                Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(64 << 10);
            for (int i = 0; i < 16; i++) {
                q.read(0, b); // 16 × 64 KiB = 1 MiB at 1 MiB/s, 16 ops at 100/s
            }
            q.flush(); // free
            // The byte bucket dominates: (1 MiB - 4 KiB burst) / 1 MiB/s ≈ 0.996 s.
            assertThat(now[0]).isBetween(990_000_000L, 1_000_000_000L);
        }
    }
}
