package io.qingtian.sys;

import java.io.PrintStream;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Waits that end, for shutdown paths. A close that waits for other threads (a queue worker
 * finishing its request, a teardown talking to a peer) waits at most a bound, then says which
 * threads are still busy and where (name, state, top of the stack) and lets its caller go on:
 * one request stuck in a dead disk or a hung peer must not keep a process from exiting.
 *
 * <p>What the stuck threads still use (guest memory mappings, fds) is not released under them:
 * whoever owns it releases it when they finish, or the process's exit does. Going on is safe;
 * pulling memory from under a running thread is not.
 *
 * <p>Reports go to stderr, not java.util.logging: on SIGTERM the logging framework resets its
 * handlers in its own shutdown hook, racing with ours, and the line that explains a hang must
 * not be lost.
 */
public final class BoundedWait {
    /** How long one shutdown step waits by default ({@code -Dqt.shutdownMillis=N}). */
    public static final Duration SHUTDOWN = Duration.ofMillis(Long.getLong("qt.shutdownMillis", 5000));
    private static final int FRAMES = 8;

    private BoundedWait() {}

    /**
     * Waits until {@code t} has ended or {@code bound} has passed; true when it ended. An
     * interrupt does not cut the wait short (the bound does); the flag is restored.
     */
    public static boolean join(Thread t, Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        boolean interrupted = false;
        try {
            while (t.isAlive()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    t.join(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            return true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Runs {@code action} on a daemon thread named {@code name} and waits for it at most
     * {@code bound}. True when it finished (its exception, if any, is rethrown here); false when
     * it still runs: then the thread and {@code related} threads are reported, and the action
     * goes on in the background.
     */
    public static boolean run(String name, Duration bound, Runnable action, Collection<Thread> related) {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().daemon().name(name).unstarted(() -> {
            try {
                action.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.start();
        if (!join(t, bound)) {
            List<Thread> stuck = new java.util.ArrayList<>();
            stuck.add(t);
            stuck.addAll(related);
            report(name + " did not finish within " + bound.toMillis() + " ms; going on without it", stuck);
            return false;
        }
        rethrow(name, failure.get());
        return true;
    }

    /** What the bounded action threw, if anything, thrown again in the caller's thread. */
    static void rethrow(String name, Throwable e) {
        if (e instanceof RuntimeException r) {
            throw r;
        }
        if (e instanceof Error err) {
            throw err;
        }
        if (e != null) {
            throw new IllegalStateException(name + " failed", e);
        }
    }

    public static boolean run(String name, Duration bound, Runnable action) {
        return run(name, bound, action, List.of());
    }

    /**
     * Prints {@code what} and one line per live thread of {@code threads} (see
     * {@link #describe}) to stderr; returns the text printed.
     */
    public static String report(String what, Collection<Thread> threads) {
        StringBuilder b = new StringBuilder();
        b.append(LocalDateTime.now()).append(" WARNING ").append(what);
        for (Thread t : threads) {
            if (t.isAlive()) {
                b.append(System.lineSeparator()).append("    stuck: ").append(describe(t));
            }
        }
        String text = b.toString();
        PrintStream err = System.err;
        err.println(text);
        err.flush();
        return text;
    }

    /** "name [STATE] at frame < caller < ...": where a thread is, in one line. */
    public static String describe(Thread t) {
        StringBuilder b = new StringBuilder().append('"').append(t.getName()).append("\" [").append(t.getState()).append(']');
        StackTraceElement[] stack = t.getStackTrace();
        for (int i = 0; i < Math.min(FRAMES, stack.length); i++) {
            b.append(i == 0 ? " at " : " < ").append(stack[i].getClassName()
                    .substring(stack[i].getClassName().lastIndexOf('.') + 1)).append('.')
                    .append(stack[i].getMethodName()).append(':').append(stack[i].getLineNumber());
        }
        return b.toString();
    }
}
