package io.qingtian.sys;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The last word on a process that was given a time limit: if it still runs when the limit
 * has passed, one line says so, the stacks of the threads that matter follow (where it hung:
 * a vCPU in a device, a teardown waiting for a peer), and the process halts with the given
 * status. {@link Runtime#halt} and not {@link System#exit}: exit runs shutdown hooks, and a
 * hook that blocks is one of the hangs this guards against.
 *
 * <p>Armed for the rest of the process: the caller's orderly path (stop the VM, close
 * devices, return the status to {@code System.exit}) normally ends the process long before;
 * the guard only fires when something in that path does not end. Reports go to stderr
 * directly (see {@link BoundedWait} for why not java.util.logging).
 */
public final class ExitGuard implements AutoCloseable {
    /** Time granted past a limit for the orderly stop ({@code -Dqt.exitGraceMillis=N}). */
    public static final Duration GRACE = Duration.ofMillis(Long.getLong("qt.exitGraceMillis", 15_000));
    private static final int FRAMES = 40;

    private final Thread thread;
    private volatile boolean disarmed;

    private ExitGuard(long deadlineNanos, String what, PrintStream err, Predicate<Thread> report, Runnable halt) {
        thread = Thread.ofPlatform().daemon().name("exit-guard").unstarted(() -> {
            while (!disarmed) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    fire(what, err, report, halt);
                    return;
                }
                try {
                    Thread.sleep(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    // disarmed, or spurious: the loop decides
                }
            }
        });
        thread.start();
    }

    /**
     * Halts the process with {@code status} unless it has ended by {@code deadlineNanos}
     * ({@link System#nanoTime} scale); before halting prints {@code what} and the stacks of
     * the live threads {@code report} selects to stderr.
     */
    public static ExitGuard arm(long deadlineNanos, int status, String what, Predicate<Thread> report) {
        return new ExitGuard(deadlineNanos, what, System.err, report, () -> Runtime.getRuntime().halt(status));
    }

    /** {@link #arm} with the printing stream and the halt action given (for tests). */
    static ExitGuard arm(long deadlineNanos, String what, PrintStream err, Predicate<Thread> report, Runnable halt) {
        return new ExitGuard(deadlineNanos, what, err, report, halt);
    }

    /** Non-daemon threads (those that keep a JVM alive) and those whose name starts with one of {@code prefixes}. */
    public static Predicate<Thread> nonDaemonOr(String... prefixes) {
        return t -> {
            if (!t.isDaemon()) {
                return true;
            }
            for (String p : prefixes) {
                if (t.getName().startsWith(p)) {
                    return true;
                }
            }
            return false;
        };
    }

    private static void fire(String what, PrintStream err, Predicate<Thread> report, Runnable halt) {
        try {
            StringBuilder b = new StringBuilder(what);
            for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                Thread t = e.getKey();
                if (t == Thread.currentThread() || !t.isAlive() || !report.test(t)) {
                    continue;
                }
                b.append(System.lineSeparator()).append('"').append(t.getName()).append("\" ")
                        .append(t.isDaemon() ? "daemon " : "").append('[').append(t.getState()).append(']');
                StackTraceElement[] stack = e.getValue();
                for (int i = 0; i < Math.min(FRAMES, stack.length); i++) {
                    b.append(System.lineSeparator()).append("\tat ").append(stack[i]);
                }
                if (stack.length > FRAMES) {
                    b.append(System.lineSeparator()).append("\t... ").append(stack.length - FRAMES).append(" more");
                }
            }
            err.println(b);
            err.flush();
        } finally {
            halt.run();
        }
    }

    /** True while the guard has neither fired nor been disarmed. */
    public boolean armed() {
        return !disarmed && thread.isAlive();
    }

    /** Disarms the guard (a caller whose process goes on, e.g. a test). */
    @Override
    public void close() {
        disarmed = true;
        thread.interrupt();
    }
}
