package io.qingtian.sys;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The guard with its halt replaced by a latch: it fires at its deadline, reports the threads it was told to, or stays quiet once disarmed. */
class ExitGuardTest {
    @Test
    void firesAtTheDeadlineWithTheLineAndTheStacksOfTheSelectedThreads() throws Exception {
        CountDownLatch stuck = new CountDownLatch(1);
        Thread vcpu = Thread.ofPlatform().daemon().name("vcpu-0").start(() -> {
            try {
                stuck.await();
            } catch (InterruptedException ignored) {
                // end
            }
        });
        Thread other = Thread.ofPlatform().daemon().name("unrelated").start(() -> {
            try {
                stuck.await();
            } catch (InterruptedException ignored) {
                // end
            }
        });
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CountDownLatch halted = new CountDownLatch(1);
        long t0 = System.nanoTime();
        ExitGuard g = ExitGuard.arm(t0 + 200_000_000L, "qt: still running", new PrintStream(out, true, StandardCharsets.UTF_8),
                ExitGuard.nonDaemonOr("vcpu-"), halted::countDown);
        try {
            assertThat(halted.await(10, TimeUnit.SECONDS)).as("halted").isTrue();
            assertThat((System.nanoTime() - t0) / 1_000_000).as("not before the deadline").isGreaterThanOrEqualTo(190L);
            String text = out.toString(StandardCharsets.UTF_8);
            assertThat(text.lines().findFirst()).contains("qt: still running");
            assertThat(text).contains("\"vcpu-0\" daemon [WAITING]").contains("\tat ").contains("CountDownLatch.await")
                    .doesNotContain("\"unrelated\"").doesNotContain("\"exit-guard\"");
            assertThat(text).as("the test's own non-daemon main thread is reported").contains("\"main\"");
        } finally {
            g.close();
            stuck.countDown();
            vcpu.join();
            other.join();
        }
    }

    @Test
    void aDisarmedGuardNeverFires() throws Exception {
        CountDownLatch halted = new CountDownLatch(1);
        ExitGuard g = ExitGuard.arm(System.nanoTime() + 300_000_000L, "x", new PrintStream(new ByteArrayOutputStream()),
                t -> true, halted::countDown);
        assertThat(g.armed()).isTrue();
        g.close();
        assertThat(halted.await(600, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(g.armed()).isFalse();
    }
}
