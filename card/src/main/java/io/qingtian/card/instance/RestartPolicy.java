package io.qingtian.card.instance;

/**
 * What the supervisor does when a hypervisor exits without being asked to:
 * {@code NEVER} records the exit; {@code ON_FAILURE} relaunches after a non-zero exit (crash,
 * hypervisor error, signal, guest reboot) with exponential backoff (1 s, 2 s, 4 s ... 30 s),
 * giving up after {@link #MAX_ATTEMPTS} consecutive failures.
 */
public enum RestartPolicy {
    NEVER, ON_FAILURE;

    public static final int MAX_ATTEMPTS = 5;

    public static long backoffMillis(int attempt) {
        return Math.min(30_000L, 1000L << Math.min(attempt, 5));
    }
}
