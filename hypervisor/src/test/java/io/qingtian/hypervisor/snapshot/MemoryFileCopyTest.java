package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.memory.GuestRam;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The copy restore (VMs with vhost-user devices): a sparse memory file's data lands in a fresh
 * memfd at the same offsets, whatever the number of workers, and holes stay zero.
 */
class MemoryFileCopyTest {
    static final long SIZE = 80L << 20; // three stripes, the last one short

    @TempDir
    Path dir;

    /** Data runs in every stripe, across a stripe boundary, and at the very end of the file. */
    private Path sparseFile(long seed) throws Exception {
        Path f = dir.resolve("mem-" + seed);
        Random r = new Random(seed);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(SIZE);
            for (long at : new long[] {0, 5L << 20, (32L << 20) - 8192, 40L << 20, 70L << 20, SIZE - 4096}) {
                byte[] b = new byte[at == (32L << 20) - 8192 ? 3 * 4096 + 100 : 4096 * (1 + r.nextInt(64))];
                r.nextBytes(b);
                raf.seek(at);
                raf.write(b, 0, (int) Math.min(b.length, SIZE - at));
            }
        }
        return f;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4})
    void copiesEveryDataExtentToTheSameOffset(int threads) throws Exception {
        Path f = sparseFile(threads);
        byte[] expected = java.nio.file.Files.readAllBytes(f);
        try (GuestRam ram = GuestRam.allocate(SIZE)) {
            MemoryFile.Copy c = MemoryFile.startCopy(f, ram, threads);
            long copied = c.await();
            assertThat(copied).as("only data is copied").isLessThan(SIZE / 4).isPositive();
            assertThat(c.nanos()).isPositive();
            byte[] got = ram.memory().regions().getFirst().mapping().toArray(ValueLayout.JAVA_BYTE);
            assertThat(java.util.Arrays.mismatch(got, expected)).as("first difference").isEqualTo(-1);
            assertThat(c.await()).as("await again: same answer").isEqualTo(copied);
        }
    }

    @Test
    void aShortFileFillsWhatItHoldsAndAMissingFileIsAClearError() throws Exception {
        Path f = dir.resolve("short");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(4L << 20);
            raf.seek(1L << 20);
            raf.write(1);
        }
        try (GuestRam ram = GuestRam.allocate(SIZE)) {
            // (VmSnapshot.load refuses a memory file of the wrong size before any copy.) SEEK_DATA
            // finds nothing past the end: the data that is there is copied, the rest stays zero.
            MemoryFile.copyInto(f, ram);
            assertThat(ram.memory().read(1L << 20, 1)[0]).isEqualTo((byte) 1);
        }
        assertThatThrownBy(() -> {
            try (GuestRam ram = GuestRam.allocate(SIZE)) {
                MemoryFile.copyInto(dir.resolve("absent"), ram);
            }
        }).hasMessageContaining("cannot open memory file");
    }

    @Test
    void theGuestRamMayGoWhileTheCopyRuns() throws Exception {
        // A failed build closes the RAM (mapping and memfd) while the workers still write: they
        // write through their own descriptor of the memfd, so nothing else is written, nothing
        // crashes, and await still reports the copy.
        Path f = sparseFile(9);
        GuestRam ram = GuestRam.allocate(SIZE);
        MemoryFile.Copy c = MemoryFile.startCopy(f, ram, 2);
        ram.close();
        assertThat(c.await()).isPositive();
    }
}
