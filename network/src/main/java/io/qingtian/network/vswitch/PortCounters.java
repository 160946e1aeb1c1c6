package io.qingtian.network.vswitch;

import io.qingtian.network.packet.DropReason;
import java.util.EnumMap;
import java.util.Map;

/** Counters of one port (or uplink); updated under its lock, plain longs. */
final class PortCounters {
    private static final DropReason[] REASONS = DropReason.values();
    long rxPackets;
    long rxBytes;
    long txPackets;
    long txBytes;
    final long[] drops = new long[REASONS.length];

    void rx(int bytes) {
        rxPackets++;
        rxBytes += bytes;
    }

    void tx(int bytes) {
        txPackets++;
        txBytes += bytes;
    }

    void drop(DropReason r) {
        drops[r.ordinal()]++;
    }

    PortStats snapshot(String name) {
        Map<DropReason, Long> m = new EnumMap<>(DropReason.class);
        for (DropReason r : REASONS) {
            if (drops[r.ordinal()] != 0) {
                m.put(r, drops[r.ordinal()]);
            }
        }
        return new PortStats(name, rxPackets, rxBytes, txPackets, txBytes, m);
    }
}
