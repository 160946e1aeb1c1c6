package io.qingtian.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class BoundedWaitTest {
    /** Runs {@code r} with stderr captured; returns what was printed. */
    private static String stderrOf(Runnable r) {
        PrintStream saved = System.err;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setErr(new PrintStream(b, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setErr(saved);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    @Test
    void anActionThatHangsIsReportedAndLeftRunning() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        boolean[] done = new boolean[1];
        String err = stderrOf(() -> done[0] = BoundedWait.run("stuck-teardown", Duration.ofMillis(100), () -> {
            try {
                release.await(100, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            finished.set(true);
        }));
        assertThat(done[0]).isFalse();
        assertThat(finished).as("gave up waiting while the action still ran").isFalse();
        // (its state is not asserted: on a busy machine it may not have parked yet)
        assertThat(err).contains("stuck-teardown did not finish within 100 ms").contains("stuck: \"stuck-teardown\" [");
        release.countDown();
    }

    @Test
    void anActionThatEndsIsWaitedForAndItsFailureRethrown() {
        AtomicBoolean ran = new AtomicBoolean();
        assertThat(BoundedWait.run("quick", Duration.ofSeconds(60), () -> ran.set(true))).isTrue();
        assertThat(ran).isTrue();
        assertThatThrownBy(() -> BoundedWait.run("failing", Duration.ofSeconds(60), () -> {
            throw new IllegalStateException("broken");
        })).isInstanceOf(IllegalStateException.class).hasMessage("broken");
    }

    @Test
    void joinTellsEndedFromStillRunning() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Thread t = Thread.ofPlatform().name("joined").start(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(BoundedWait.join(t, Duration.ofMillis(50))).isFalse();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (t.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
            Thread.sleep(1); // until it has parked in await
        }
        assertThat(BoundedWait.describe(t)).startsWith("\"joined\" [WAITING] at ").contains("CountDownLatch.await");
        release.countDown();
        assertThat(BoundedWait.join(t, Duration.ofSeconds(60))).isTrue();
        assertThat(stderrOf(() -> BoundedWait.report("nothing stuck", List.of(t)))).contains("nothing stuck")
                .doesNotContain("stuck: ");
    }
}
