package io.qingtian.network.vswitch;

/**
 * A token bucket: {@code rate} tokens per second, at most {@code burst} stored. Time comes
 * from the caller (nanoseconds) so tests drive it without sleeping.
 */
public final class TokenBucket {
    private final double ratePerNano;
    private final double burst;
    private double tokens;
    private long last;
    private double overflowed;

    public TokenBucket(long ratePerSecond, long burst, long nowNanos) {
        if (ratePerSecond <= 0 || burst <= 0) {
            throw new IllegalArgumentException("rate and burst must be positive");
        }
        this.ratePerNano = ratePerSecond / 1e9;
        this.burst = burst;
        this.tokens = burst;
        this.last = nowNanos;
    }

    long burstTokens() {
        return (long) burst;
    }

    /** Takes {@code n} tokens if available. */
    public boolean tryTake(long n, long nowNanos) {
        refill(nowNanos);
        if (tokens >= n) {
            tokens -= n;
            return true;
        }
        return false;
    }

    /** True if {@code n} tokens are available now (without taking them). */
    public boolean has(long n, long nowNanos) {
        refill(nowNanos);
        return tokens >= n;
    }

    /** Nanoseconds until {@code n} tokens (capped at the burst) are available; 0 if they are now. */
    public long nanosUntil(long n, long nowNanos) {
        refill(nowNanos);
        double need = Math.min(n, burst) - tokens;
        return need <= 0 ? 0 : (long) Math.ceil(need / ratePerNano);
    }

    /** Tokens discarded so far because the bucket was full: credit nobody used. */
    double overflowed() {
        return overflowed;
    }

    double ratePerNano() {
        return ratePerNano;
    }

    private void refill(long now) {
        long dt = now - last;
        if (dt > 0) {
            double t = tokens + dt * ratePerNano;
            if (t > burst) {
                overflowed += t - burst;
                t = burst;
            }
            tokens = t;
            last = now;
        }
    }
}
