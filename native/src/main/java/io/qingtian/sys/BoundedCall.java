package io.qingtian.sys;

import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A step that must end by a deadline although it may block where no interrupt reaches (a
 * native call waiting for a peer): it runs on its own daemon thread, and the caller waits
 * until the deadline only. A step that misses it goes on in the background; what it produces
 * after the caller gave up is handed to a disposer instead of being lost.
 */
public final class BoundedCall {
    private static final int RUNNING = 0;
    private static final int DONE = 1;
    private static final int ABANDONED = 2;

    private BoundedCall() {}

    /**
     * Runs {@code action} on a daemon platform thread named {@code name} and returns its
     * result if it ends by {@code deadlineNanos} ({@link System#nanoTime} scale); its
     * exception is rethrown here. Otherwise throws a {@link TimeoutException} whose message
     * says where the thread is ({@link BoundedWait#describe}); a result it still produces is
     * passed to {@code late}.
     */
    public static <T> T call(String name, long deadlineNanos, Supplier<T> action, Consumer<? super T> late)
            throws TimeoutException {
        AtomicInteger state = new AtomicInteger(RUNNING);
        AtomicReference<T> value = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().daemon().name(name).unstarted(() -> {
            try {
                T v = action.get();
                value.set(v);
                if (!state.compareAndSet(RUNNING, DONE) && v != null) {
                    late.accept(v);
                }
            } catch (Throwable e) {
                failure.set(e);
                state.compareAndSet(RUNNING, DONE);
            }
        });
        t.start();
        long left = deadlineNanos - System.nanoTime();
        boolean ended = left > 0 && BoundedWait.join(t, java.time.Duration.ofNanos(left));
        if (!ended) {
            String where = BoundedWait.describe(t);
            if (state.compareAndSet(RUNNING, ABANDONED)) {
                throw new TimeoutException(where);
            }
            // it finished just as the time ran out: take its result
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        BoundedWait.rethrow(name, failure.get());
        return value.get();
    }
}
