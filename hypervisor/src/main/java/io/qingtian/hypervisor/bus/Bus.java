package io.qingtian.hypervisor.bus;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * An address space (I/O ports or MMIO) mapping non-overlapping ranges to devices. Built
 * once, then immutable: lookups are a binary search over a sorted array of range starts,
 * with primitives only, so the vCPU exit path allocates nothing and needs no lock (devices
 * synchronise their own state).
 *
 * <p>Accesses to unmapped addresses read as all ones and writes are dropped, as on a PC
 * bus with nothing answering (Linux probes many absent ports, e.g. 0x80 for delays).
 */
public final class Bus {
    /** One mapped range: {@code [base, base+length)} handled by {@code device}. */
    public record Range(long base, long length, BusDevice device, String name) {
        public Range {
            if (length <= 0 || base < 0 || base + length < base) {
                throw new IllegalArgumentException("bad bus range " + name + " at 0x" + Long.toHexString(base));
            }
        }

        public long end() {
            return base + length;
        }
    }

    private final long[] bases;
    private final long[] ends;
    private final BusDevice[] devices;
    private final List<Range> ranges;

    private Bus(List<Range> sorted) {
        this.ranges = List.copyOf(sorted);
        this.bases = sorted.stream().mapToLong(Range::base).toArray();
        this.ends = sorted.stream().mapToLong(Range::end).toArray();
        this.devices = sorted.stream().map(Range::device).toArray(BusDevice[]::new);
    }

    public static Builder builder() {
        return new Builder();
    }

    public List<Range> ranges() {
        return ranges;
    }

    /** Index of the range containing {@code addr}, or -1. */
    public int indexOf(long addr) {
        int lo = 0;
        int hi = bases.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (bases[mid] <= addr) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        // hi is the last range starting at or below addr
        return hi >= 0 && addr < ends[hi] ? hi : -1;
    }

    /**
     * Reads {@code size} bytes at {@code addr}. An access that starts in a range but runs past
     * its end is treated as unmapped rather than handed to a device outside its contract.
     */
    public long read(long addr, int size) {
        int i = indexOf(addr);
        if (i < 0 || addr + size > ends[i]) {
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return devices[i].read(addr - bases[i], size);
    }

    /** Writes the low {@code size} bytes of {@code value} at {@code addr}; dropped if unmapped. */
    public void write(long addr, int size, long value) {
        int i = indexOf(addr);
        if (i < 0 || addr + size > ends[i]) {
            return;
        }
        devices[i].write(addr - bases[i], size, value);
    }

    public boolean isMapped(long addr) {
        return indexOf(addr) >= 0;
    }

    /** Collects ranges and rejects overlaps. */
    public static final class Builder {
        private final List<Range> ranges = new ArrayList<>();

        public Builder add(long base, long length, BusDevice device, String name) {
            Range r = new Range(base, length, device, name);
            for (Range o : ranges) {
                if (r.base() < o.end() && o.base() < r.end()) {
                    throw new IllegalArgumentException("bus range " + name + " [0x" + Long.toHexString(r.base()) + ", 0x"
                            + Long.toHexString(r.end()) + ") overlaps " + o.name());
                }
            }
            ranges.add(r);
            return this;
        }

        public Bus build() {
            Range[] sorted = ranges.toArray(Range[]::new);
            Arrays.sort(sorted, Comparator.comparingLong(Range::base));
            return new Bus(Arrays.asList(sorted));
        }
    }
}
