package io.qingtian.card.qos;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class TokenBucketTest {
    /** A clock that only moves when a worker sleeps: time is exactly the sum of the waits. */
    static final class FakeTicker implements Ticker {
        long now = 1_000_000L;

        @Override
        public long nanoTime() {
            return now;
        }

        @Override
        public void sleepNanos(long nanos) {
            now += nanos;
        }
    }

    @Test
    void burstIsFreeThenRateIsExact() throws InterruptedException {
        FakeTicker t = new FakeTicker();
        long start = t.now;
        TokenBucket iops = new TokenBucket(1000, 100, t);
        for (int i = 0; i < 100; i++) {
            iops.acquire(1);
        }
        assertThat(t.now).isEqualTo(start);
        for (int i = 0; i < 1000; i++) {
            iops.acquire(1);
        }
        // 1000 requests beyond the burst at 1000/s take exactly one second.
        assertThat(t.now - start).isBetween(999_999_000L, 1_000_001_000L);
    }

    @Test
    void idleTimeRefillsOnlyUpToTheBurst() throws InterruptedException {
        FakeTicker t = new FakeTicker();
        TokenBucket bw = new TokenBucket(1 << 20, 64 << 10, t);
        t.now += 10_000_000_000L; // ten idle seconds
        long before = t.now;
        bw.acquire(64 << 10);
        assertThat(t.now).isEqualTo(before);
        bw.acquire(1 << 20); // one second's worth beyond an empty bucket
        assertThat(t.now - before).isBetween(999_000_000L, 1_001_000_000L);
    }

    @Test
    void requestLargerThanBurstWaitsForItsWholeCostInsteadOfStarving() throws InterruptedException {
        FakeTicker t = new FakeTicker();
        TokenBucket bw = new TokenBucket(1000, 10, t);
        long before = t.now;
        bw.acquire(1010);
        assertThat(t.now - before).isBetween(999_000_000L, 1_001_000_000L);
    }

    @Property(tries = 200)
    void longRunRateMatchesConfiguration(@ForAll @LongRange(min = 1, max = 1_000_000) long rate,
            @ForAll @LongRange(min = 1, max = 100_000) long burst,
            @ForAll @IntRange(min = 1, max = 2000) int requests,
            @ForAll @IntRange(min = 1, max = 4096) int cost) throws InterruptedException {
        FakeTicker t = new FakeTicker();
        TokenBucket b = new TokenBucket(rate, burst, t);
        long start = t.now;
        for (int i = 0; i < requests; i++) {
            b.acquire(cost);
        }
        double expectedSeconds = Math.max(0, ((double) requests * cost - burst) / rate);
        double actual = (t.now - start) / 1e9;
        // Each wait is rounded up to a whole nanosecond.
        assertThat(actual).isBetween(expectedSeconds - 1e-9, expectedSeconds + requests * 1e-9 + 1e-9);
    }
}
