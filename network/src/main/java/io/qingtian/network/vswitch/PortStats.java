package io.qingtian.network.vswitch;

import io.qingtian.network.packet.DropReason;
import java.util.Map;

/**
 * A snapshot of one port's counters, from the switch's point of view: {@code rx} is what the
 * switch received from the port (the guest sent), {@code tx} what it delivered to the port
 * (the guest received). Drops are keyed by reason, only non-zero reasons listed.
 */
public record PortStats(String port, long rxPackets, long rxBytes, long txPackets, long txBytes,
                        Map<DropReason, Long> drops) {
    public long drops(DropReason r) {
        return drops.getOrDefault(r, 0L);
    }

    public long totalDrops() {
        return drops.values().stream().mapToLong(Long::longValue).sum();
    }
}
