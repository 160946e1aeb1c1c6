package io.qingtian.hypervisor.devices;

import io.qingtian.hypervisor.bus.IrqLine;
import java.util.ArrayList;
import java.util.List;

/** An IRQ line that remembers its level and every change (what KVM_IRQ_LINE would see). */
final class RecordingIrq implements IrqLine {
    private final List<Boolean> changes = new ArrayList<>();
    private boolean level;

    @Override
    public synchronized void set(boolean asserted) {
        level = asserted;
        changes.add(asserted);
    }

    synchronized boolean level() {
        return level;
    }

    /** Rising edges so far: the interrupts an edge-triggered ISA pin delivers. */
    synchronized int risingEdges() {
        int n = 0;
        boolean prev = false;
        for (boolean b : changes) {
            if (b && !prev) {
                n++;
            }
            prev = b;
        }
        return n;
    }
}
