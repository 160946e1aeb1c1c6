package io.qingtian.network.vswitch;

/**
 * A port's limits on what its guest sends: bits/s and packets/s, either may be 0 (= no
 * limit). The bursts are 10 ms worth of traffic (at least one maximum-size frame) so a
 * limit holds over any window of a few hundred milliseconds.
 */
public record RateLimit(long bitsPerSecond, long packetsPerSecond) {
    public static final RateLimit NONE = new RateLimit(0, 0);

    public RateLimit {
        if (bitsPerSecond < 0 || packetsPerSecond < 0) {
            throw new IllegalArgumentException("rate limits must not be negative");
        }
    }

    public boolean unlimited() {
        return bitsPerSecond == 0 && packetsPerSecond == 0;
    }

    /** Two buckets checked together: a frame passes only if both have tokens. */
    static final class Limiter {
        private final TokenBucket bits;
        private final TokenBucket packets;

        Limiter(RateLimit limit, long now) {
            bits = limit.bitsPerSecond == 0 ? null
                    : new TokenBucket(limit.bitsPerSecond, Math.max(limit.bitsPerSecond / 100, 8L * 1514 * 2), now);
            packets = limit.packetsPerSecond == 0 ? null
                    : new TokenBucket(limit.packetsPerSecond, Math.max(limit.packetsPerSecond / 100, 2), now);
        }

        /**
         * Shaping instead of policing: 0 when the frame may go now (its tokens are taken),
         * else how long to wait before asking again.
         */
        long delay(int frameBytes, long now) {
            long b = 8L * frameBytes;
            long wait = 0;
            if (bits != null) {
                wait = bits.nanosUntil(b, now);
            }
            if (packets != null) {
                wait = Math.max(wait, packets.nanosUntil(1, now));
            }
            if (wait == 0) {
                if (bits != null) {
                    bits.tryTake(Math.min(b, bits.burstTokens()), now);
                }
                if (packets != null) {
                    packets.tryTake(1, now);
                }
            }
            return wait;
        }

        boolean admit(int frameBytes, long now) {
            long b = 8L * frameBytes;
            if (bits != null && !bits.has(b, now)) {
                return false;
            }
            if (packets != null && !packets.tryTake(1, now)) {
                return false;
            }
            if (bits != null) {
                bits.tryTake(b, now);
            }
            return true;
        }
    }
}
