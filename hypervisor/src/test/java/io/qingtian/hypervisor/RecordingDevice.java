package io.qingtian.hypervisor;

import io.qingtian.hypervisor.bus.BusDevice;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A bus device that records accesses and answers reads with a fixed value. */
final class RecordingDevice implements BusDevice {
    record Access(boolean write, long offset, int size, long value) {}

    final List<Access> accesses = Collections.synchronizedList(new ArrayList<>());
    private final long readValue;

    RecordingDevice(long readValue) {
        this.readValue = readValue;
    }

    @Override
    public long read(long offset, int size) {
        accesses.add(new Access(false, offset, size, readValue));
        return readValue;
    }

    @Override
    public void write(long offset, int size, long value) {
        accesses.add(new Access(true, offset, size, value));
    }

    List<Access> writes() {
        synchronized (accesses) {
            return accesses.stream().filter(Access::write).toList();
        }
    }
}
