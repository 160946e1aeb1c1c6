package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/**
 * The limiter against a simulated clock: a backlogged sender behind a shaping worker that
 * sleeps in whole milliseconds (as the vhost-user transmit worker does, epoll timeouts) and
 * is woken late by up to 40 ms (a busy card CPU). What it lets through must equal the rate
 * to within one bucket: never more than {@code rate × T + depth} over any window, and not
 * less than {@code rate × T} over the run, since no pause outlasts the bucket's depth.
 */
class RateLimitPropertiesTest {
    static final long MS = 1_000_000L;
    static final long RUN = 3_000 * MS;
    static final long MAX_LATE = 40 * MS;

    /**
     * Sends of one simulated run: time and size of every frame let through; the limiter's
     * stall count and the time it was last asked (what its accounting covers).
     */
    record Sent(List<Long> times, List<Integer> sizes, long[] stalled, long[] lastAsked) {
        long count() {
            return times.size();
        }

        long bits() {
            return sizes.stream().mapToLong(s -> 8L * s).sum();
        }
    }

    /** A shaping worker with a sender that always has a frame; frame sizes from {@code size}. */
    static Sent shape(RateLimit limit, Random rnd, java.util.function.IntSupplier size) {
        return shape(limit, rnd, size, MAX_LATE);
    }

    static Sent shape(RateLimit limit, Random rnd, java.util.function.IntSupplier size, long maxLate) {
        RateLimit.Limiter l = new RateLimit.Limiter(limit, 0);
        Sent s = new Sent(new ArrayList<>(), new ArrayList<>(), new long[1], new long[1]);
        long now = 0;
        int next = size.getAsInt();
        while (now < RUN) {
            long wait = l.delay(next, now);
            s.lastAsked()[0] = now;
            if (wait == 0) {
                s.times().add(now);
                s.sizes().add(next);
                next = size.getAsInt();
                now += rnd.nextInt(1_000); // switching the frame: up to 1 µs (the sender is never the bottleneck)
            } else {
                long ms = Math.max(1, (wait + MS - 1) / MS);
                long late = rnd.nextInt(10) == 0 ? (long) (rnd.nextDouble() * maxLate) : rnd.nextInt(100_000);
                now += ms * MS + late;
            }
        }
        s.stalled()[0] = l.stalledNanos();
        return s;
    }

    /** The most that any window of {@code len} ns saw, by {@code weight} of each send. */
    static long busiestWindow(Sent s, long len, java.util.function.IntToLongFunction weight) {
        long best = 0;
        long sum = 0;
        int lo = 0;
        for (int hi = 0; hi < s.times().size(); hi++) {
            sum += weight.applyAsLong(hi);
            while (s.times().get(hi) - s.times().get(lo) >= len) {
                sum -= weight.applyAsLong(lo++);
            }
            best = Math.max(best, sum);
        }
        return best;
    }

    @Property(tries = 60)
    void packetsPerSecondHoldWithinOneBucket(@ForAll @LongRange(min = 1_000, max = 500_000) long pps,
                                             @ForAll long seed) {
        Sent s = shape(new RateLimit(0, pps), new Random(seed), () -> 64);
        long depth = Math.max(pps * RateLimit.BURST_MILLIS / 1000, 2);
        double expected = pps * (RUN / 1e9);
        assertThat((double) s.count()).isBetween(expected - 1, expected + depth + 1);
        assertThat(s.stalled()[0]).as("no pause outlasted the bucket").isZero();
        for (long len : new long[] {100 * MS, 1_000 * MS}) {
            assertThat((double) busiestWindow(s, len, i -> 1))
                    .as("busiest %d ms window", len / MS).isLessThanOrEqualTo(pps * (len / 1e9) + depth + 1);
        }
    }

    @Property(tries = 60)
    void bitsPerSecondHoldWithinOneBucket(@ForAll @LongRange(min = 10_000_000, max = 2_000_000_000L) long bps,
                                          @ForAll long seed) {
        Random rnd = new Random(seed);
        Sent s = shape(new RateLimit(bps, 0), rnd, () -> 60 + rnd.nextInt(1455));
        long depth = Math.max(bps / 1000 * RateLimit.BURST_MILLIS, 8L * 1514 * 2);
        double expected = bps * (RUN / 1e9);
        assertThat((double) s.bits()).isBetween(expected - 8 * 1514, expected + depth + 1);
        assertThat((double) busiestWindow(s, 1_000 * MS, i -> 8L * s.sizes().get(i)))
                .isLessThanOrEqualTo(bps + depth + 1);
    }

    @Property(tries = 60)
    void withBothLimitsTheTighterOneHolds(@ForAll @LongRange(min = 10_000_000, max = 2_000_000_000L) long bps,
                                          @ForAll @LongRange(min = 1_000, max = 500_000) long pps,
                                          @ForAll @IntRange(min = 60, max = 1514) int frame, @ForAll long seed) {
        Sent s = shape(new RateLimit(bps, pps), new Random(seed), () -> frame);
        double byBits = bps / (8.0 * frame);
        double rate = Math.min(pps, byBits);
        double expected = rate * (RUN / 1e9);
        double depth = pps <= byBits ? Math.max(pps * RateLimit.BURST_MILLIS / 1000, 2)
                : Math.max(bps / 1000 * RateLimit.BURST_MILLIS, 8L * 1514 * 2) / (8.0 * frame);
        assertThat((double) s.count()).isBetween(expected - 2, expected + depth + 1);
    }

    /** Policing (frames that arrive over the limit are dropped): the same bounds. */
    @Property(tries = 60)
    void policingPassesTheRate(@ForAll @LongRange(min = 1_000, max = 500_000) long pps, @ForAll long seed) {
        Random rnd = new Random(seed);
        RateLimit.Limiter l = new RateLimit.Limiter(new RateLimit(0, pps), 0);
        long gap = Math.max(1, 1_000_000_000L / pps / 3); // three times the limit offered
        long passed = 0;
        for (long now = 0; now < RUN; now += 1 + rnd.nextLong(2 * gap)) {
            if (l.admit(64, now)) {
                passed++;
            }
        }
        long depth = Math.max(pps * RateLimit.BURST_MILLIS / 1000, 2);
        double expected = pps * (RUN / 1e9);
        assertThat((double) passed).isBetween(expected * 0.99 - 1, expected + depth + 1);
    }

    /**
     * Pauses longer than the bucket do cost rate, and the limiter accounts for exactly that:
     * what passed plus the rate over the stalled time is the rate over the run.
     */
    @Property(tries = 60)
    void longPausesAreCountedAsStalls(@ForAll @LongRange(min = 1_000, max = 200_000) long pps,
                                      @ForAll @LongRange(min = 100, max = 400) long maxLateMillis, @ForAll long seed) {
        Sent s = shape(new RateLimit(0, pps), new Random(seed), () -> 64, maxLateMillis * MS);
        long depth = Math.max(pps * RateLimit.BURST_MILLIS / 1000, 2);
        double expected = pps * (s.lastAsked()[0] / 1e9);
        double stalledFrames = pps * (s.stalled()[0] / 1e9);
        assertThat(s.count() + stalledFrames).isBetween(expected - 2, expected + depth + 2);
        assertThat((double) s.count()).isLessThanOrEqualTo(pps * (RUN / 1e9) + depth + 1);
        assertThat(s.stalled()[0]).isPositive();
    }
}
