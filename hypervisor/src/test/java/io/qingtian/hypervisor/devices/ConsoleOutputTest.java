package io.qingtian.hypervisor.devices;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Console buffering: one host write per line or per full buffer, nothing lost, nothing thrown. */
class ConsoleOutputTest {

    /** Records the size of every write the host stream receives. */
    static final class CountingStream extends OutputStream {
        final List<Integer> writes = new ArrayList<>();
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            writes.add(1);
            bytes.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            writes.add(len);
            bytes.write(b, off, len);
        }
    }

    @Test
    void aLineIsOneHostWrite() {
        CountingStream s = new CountingStream();
        // No pause flush during the line: with the real 5 ms, a writer descheduled mid-line on
        // a busy machine would see its line in two parts (correctly: the guest "paused").
        try (ConsoleOutput out = new ConsoleOutput(s, Long.MAX_VALUE)) {
            for (byte b : "a line of console output\n".getBytes()) {
                out.write(b);
            }
            synchronized (s) {
                assertThat(s.writes).containsExactly(25);
            }
        }
    }

    @Test
    void aFullBufferIsWrittenWithoutWaitingForANewline() {
        CountingStream s = new CountingStream();
        try (ConsoleOutput out = new ConsoleOutput(s)) {
            for (int i = 0; i < ConsoleOutput.CAPACITY * 2 + 10; i++) {
                out.write('x');
            }
            // The pause timer may also flush a part on a busy machine (the writer can be
            // descheduled for longer than FLUSH_DELAY_MS), so what holds at any timing is: no
            // host write is larger than the buffer, and less than one buffer is still held.
            synchronized (s) {
                assertThat(s.writes).allSatisfy(n -> assertThat(n).isBetween(1, ConsoleOutput.CAPACITY));
                assertThat(s.bytes.size()).isGreaterThan(ConsoleOutput.CAPACITY + 10);
            }
            out.flush();
            synchronized (s) {
                assertThat(s.bytes.size()).isEqualTo(ConsoleOutput.CAPACITY * 2 + 10);
            }
        }
    }

    @Test
    void closeFlushesAndLaterOutputIsDropped() {
        CountingStream s = new CountingStream();
        ConsoleOutput out = new ConsoleOutput(s);
        out.write('$');
        out.close();
        out.write('!');
        out.flush();
        synchronized (s) {
            assertThat(s.bytes.toString()).isEqualTo("$");
        }
    }

    @Test
    void aBrokenStreamIsRememberedAndNotRetried() {
        int[] attempts = {0};
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                attempts[0]++;
                throw new IOException("EPIPE");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                attempts[0]++;
                throw new IOException("EPIPE");
            }
        };
        try (ConsoleOutput out = new ConsoleOutput(broken)) {
            out.write('\n');
            out.write('\n');
            assertThat(out.broken()).isTrue();
            assertThat(attempts[0]).isEqualTo(1);
        }
    }
}
