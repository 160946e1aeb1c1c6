package io.qingtian.hypervisor.snapshot;

import java.util.ArrayList;
import java.util.List;

/**
 * Where a restore's time goes, phase by phase (read and check, memory, each build step,
 * VM/vCPU/device state, start), for the hypervisor's "snapshot loaded" line and the
 * benchmarks. A phase ends at {@link #mark}; its time is the time since the previous mark.
 * Overlapped work (the memory copy that runs while the VM is built) is recorded with
 * {@link #add} under its own name. Not thread-safe: one restore, one thread.
 */
public final class RestorePhases {
    /** One finished phase. */
    public record Phase(String name, long nanos) {}

    private final List<Phase> phases = new ArrayList<>();
    private long last = System.nanoTime();

    /** Ends the current phase under {@code name}. */
    public void mark(String name) {
        long now = System.nanoTime();
        phases.add(new Phase(name, now - last));
        last = now;
    }

    /** Records work measured elsewhere (not part of the sequence of marks). */
    public void add(String name, long nanos) {
        phases.add(new Phase(name, nanos));
    }

    public List<Phase> phases() {
        return List.copyOf(phases);
    }

    /** The time of the phase called {@code name} in ns, or -1. */
    public long nanos(String name) {
        for (Phase p : phases) {
            if (p.name().equals(name)) {
                return p.nanos();
            }
        }
        return -1;
    }

    /** "name 1.2 ms, name 0.3 ms, ...", in the order recorded. */
    public String summary() {
        StringBuilder b = new StringBuilder();
        for (Phase p : phases) {
            if (!b.isEmpty()) {
                b.append(", ");
            }
            b.append(p.name()).append(' ').append(String.format(java.util.Locale.ROOT, "%.1f ms", p.nanos() / 1e6));
        }
        return b.toString();
    }
}
