package io.qingtian.network.vswitch;

/**
 * A port's limits on what its guest sends: bits/s and packets/s, either may be 0 (= no
 * limit). Bits count the Ethernet frame as the guest hands it over (destination MAC to the
 * end of the payload: no virtio-net header, no FCS, preamble or inter-frame gap).
 *
 * <p>Each limit is a token bucket {@value #BURST_MILLIS} ms deep (at least two maximum-size
 * frames / two packets). The depth is a trade-off between two errors. Over any window of
 * {@code T} seconds a backlogged sender gets at most {@code rate × (T + depth)}: +5% over one
 * second. And the worker that shapes a port must be asleep or off the CPU for longer than the
 * depth before the limiter loses credit and delivers less than the rate: on a card core
 * shared with other work, gaps of tens of milliseconds are common (measured on a loaded 2-CPU
 * machine: 20–140 ms), and a 10 ms bucket lost up to 12% of the rate to them.
 */
public record RateLimit(long bitsPerSecond, long packetsPerSecond) {
    public static final RateLimit NONE = new RateLimit(0, 0);
    /** Bucket depth: how much credit a backlogged sender keeps across a pause of its worker. */
    public static final long BURST_MILLIS = 50;

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
        /** The last {@link #delay} told the worker to wait: the sender is backlogged. */
        private boolean waiting;
        private long stalledNanos;

        Limiter(RateLimit limit, long now) {
            bits = limit.bitsPerSecond == 0 ? null
                    : new TokenBucket(limit.bitsPerSecond, depth(limit.bitsPerSecond, 8L * 1514 * 2), now);
            packets = limit.packetsPerSecond == 0 ? null
                    : new TokenBucket(limit.packetsPerSecond, depth(limit.packetsPerSecond, 2), now);
        }

        private static long depth(long perSecond, long atLeast) {
            // perSecond × BURST_MILLIS / 1000 without overflow for any long
            return Math.max(perSecond / 1000 * BURST_MILLIS + perSecond % 1000 * BURST_MILLIS / 1000, atLeast);
        }

        /**
         * Shaping instead of policing: 0 when the frame may go now (its tokens are taken),
         * else how long to wait before asking again.
         */
        long delay(int frameBytes, long now) {
            double bitsLost = bits == null ? 0 : bits.overflowed();
            double packetsLost = packets == null ? 0 : packets.overflowed();
            long b = 8L * frameBytes;
            long wait = 0;
            if (bits != null) {
                wait = bits.nanosUntil(b, now);
            }
            if (packets != null) {
                wait = Math.max(wait, packets.nanosUntil(1, now));
            }
            if (waiting) {
                // The worker was told to wait a little and came back so late that the bucket
                // overflowed: time the sender was backlogged but the worker was not running.
                // The binding bucket is the one that lost the least time (the other may be full
                // all along).
                double lost = Double.MAX_VALUE;
                if (bits != null) {
                    lost = Math.min(lost, (bits.overflowed() - bitsLost) / bits.ratePerNano());
                }
                if (packets != null) {
                    lost = Math.min(lost, (packets.overflowed() - packetsLost) / packets.ratePerNano());
                }
                stalledNanos += (long) lost;
            }
            waiting = wait > 0;
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

        /**
         * Total time the shaped sender was backlogged while its worker did not run for longer
         * than the bucket's depth (a busy card CPU): the rate lost then is not the limiter's
         * error, and operators see the card needs more CPU to honour the limit.
         */
        long stalledNanos() {
            return stalledNanos;
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
