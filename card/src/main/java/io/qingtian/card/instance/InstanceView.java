package io.qingtian.card.instance;

import java.util.List;

/**
 * A snapshot of one instance for the API: spec, state, pid, confinement, last exit, and the
 * snapshot the running process was restored from (null after a cold boot).
 */
public record InstanceView(String id, String tenant, String name, InstanceState state, Long pid, Integer uid,
        List<String> cgroups, int cpus, int memoryMib, List<String> volumes, List<String> nics, String restartPolicy,
        int restarts, ExitReason lastExit, boolean secureBoot, String measurement, String restoredFrom) {}
