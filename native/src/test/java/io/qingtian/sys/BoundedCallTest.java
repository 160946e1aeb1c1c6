package io.qingtian.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BoundedCallTest {
    static long in(long millis) {
        return System.nanoTime() + millis * 1_000_000L;
    }

    @Test
    void aStepThatEndsInTimeGivesItsResultOrItsException() throws Exception {
        assertThat(BoundedCall.call("quick", in(10_000), () -> "built", x -> { })).isEqualTo("built");
        assertThatThrownBy(() -> BoundedCall.call("failing", in(10_000), () -> {
            throw new UserError("bad socket");
        }, x -> { })).isInstanceOf(UserError.class).hasMessage("bad socket");
    }

    @Test
    void aStepThatMissesTheDeadlineSaysWhereItWasAndItsLateResultIsDisposed() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<String> disposed = new AtomicReference<>();
        CountDownLatch disposedLatch = new CountDownLatch(1);
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> BoundedCall.call("stuck-step", in(200), () -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return "late";
        }, v -> {
            disposed.set(v);
            disposedLatch.countDown();
        })).isInstanceOf(TimeoutException.class).hasMessageContaining("\"stuck-step\"").hasMessageContaining("CountDownLatch.await");
        assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(190L, 10_000L);
        release.countDown();
        assertThat(disposedLatch.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(disposed.get()).isEqualTo("late");
    }
}
