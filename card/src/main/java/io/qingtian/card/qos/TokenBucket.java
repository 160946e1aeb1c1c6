package io.qingtian.card.qos;

/**
 * A token bucket: {@code rate} tokens per second accumulate up to {@code burst}; a request
 * takes its tokens and, if the bucket runs short, waits until the deficit has been refilled.
 *
 * <p>The bucket may go into debt: a request larger than the burst (a 1 MiB write against a
 * 64 KiB burst) is admitted after waiting for its whole cost instead of starving forever.
 * Waiting happens outside the lock, so a sleeping worker never blocks the bookkeeping of
 * another queue; each caller's wait is fixed when it takes its tokens (first come, first
 * served), which keeps the long-run rate exact: after any sequence of requests of total
 * cost C starting from a full bucket, the last one completes at time max(0, (C - burst) / rate).
 */
public final class TokenBucket {
    private static final double NANOS = 1_000_000_000.0;
    private final double ratePerNano;
    private final double burst;
    private final Ticker ticker;
    private double tokens;
    private long last;

    public TokenBucket(long ratePerSecond, long burst, Ticker ticker) {
        if (ratePerSecond <= 0 || burst <= 0) {
            throw new IllegalArgumentException("rate and burst must be positive: " + ratePerSecond + ", " + burst);
        }
        this.ratePerNano = ratePerSecond / NANOS;
        this.burst = burst;
        this.ticker = ticker;
        this.tokens = burst;
        this.last = ticker.nanoTime();
    }

    /** Takes {@code cost} tokens, sleeping as long as needed. */
    public void acquire(long cost) throws InterruptedException {
        long wait = reserve(cost);
        if (wait > 0) {
            ticker.sleepNanos(wait);
        }
    }

    /** Takes {@code cost} tokens now and returns how long the caller must wait, in ns. */
    synchronized long reserve(long cost) {
        long now = ticker.nanoTime();
        tokens = Math.min(burst, tokens + (now - last) * ratePerNano);
        last = now;
        tokens -= cost;
        return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / ratePerNano);
    }
}
