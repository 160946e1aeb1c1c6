package io.qingtian.card.qos;

import java.util.concurrent.locks.LockSupport;

/** Time for token buckets: the system clock in production, a hand-driven clock in tests. */
public interface Ticker {
    long nanoTime();

    /** Blocks the calling worker for about {@code nanos}. */
    void sleepNanos(long nanos) throws InterruptedException;

    Ticker SYSTEM = new Ticker() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public void sleepNanos(long nanos) throws InterruptedException {
            long deadline = System.nanoTime() + nanos;
            for (long left = nanos; left > 0; left = deadline - System.nanoTime()) {
                LockSupport.parkNanos(left);
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
            }
        }
    };
}
