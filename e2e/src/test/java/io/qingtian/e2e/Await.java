package io.qingtian.e2e;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

/**
 * Waiting for something to happen, instead of sleeping a guessed time: polls a probe until a
 * condition holds or a deadline passes. The deadlines are generous on purpose, sized for the
 * 2-core CI machine that runs the whole suite with QEMU TCG lab tests next to it: a slow
 * machine only makes the wait longer; only a condition that never comes fails the test.
 */
public final class Await {
    /** A process start, a state change, a restart back-off on a loaded machine. */
    public static final Duration STATE_CHANGE = Duration.ofSeconds(90);
    private static final long POLL_MILLIS = 50;

    private Await() {}

    /**
     * Returns the first value of {@code probe} that satisfies {@code done}; fails with
     * {@code what} and the last value seen when {@code within} passes first.
     */
    public static <T> T until(String what, Duration within, Callable<T> probe, Predicate<? super T> done) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        T v = probe.call();
        while (!done.test(v)) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError(what + ": not within " + within.toSeconds() + " s; last seen: " + v);
            }
            Thread.sleep(POLL_MILLIS);
            v = probe.call();
        }
        return v;
    }

    /** {@link #until(String, Duration, Callable, Predicate)} with {@link #STATE_CHANGE}. */
    public static <T> T until(String what, Callable<T> probe, Predicate<? super T> done) throws Exception {
        return until(what, STATE_CHANGE, probe, done);
    }
}
