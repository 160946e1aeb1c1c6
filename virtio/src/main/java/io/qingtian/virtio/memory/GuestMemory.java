package io.qingtian.virtio.memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Guest-physical memory as a sorted set of non-overlapping regions. The only way to touch
 * guest memory: every access is translated and bounds-checked here, and a range must lie
 * inside one region (guest memory is never assumed contiguous across regions).
 *
 * <p>Immutable and thread-safe; a new memory table (vhost-user SET_MEM_TABLE) means a new
 * instance.
 */
public final class GuestMemory {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GuestRegion[] regions;
    private final long[] starts;

    public GuestMemory(List<GuestRegion> regions) {
        GuestRegion[] sorted = regions.toArray(GuestRegion[]::new);
        Arrays.sort(sorted, Comparator.comparingLong(GuestRegion::guestAddress));
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i].guestAddress() < sorted[i - 1].end()) {
                throw new IllegalArgumentException("guest memory regions overlap at 0x"
                        + Long.toHexString(sorted[i].guestAddress()));
            }
        }
        this.regions = sorted;
        this.starts = Arrays.stream(sorted).mapToLong(GuestRegion::guestAddress).toArray();
    }

    public List<GuestRegion> regions() {
        return List.of(regions);
    }

    /** Total bytes of guest memory. */
    public long totalSize() {
        long total = 0;
        for (GuestRegion r : regions) {
            total += r.size();
        }
        return total;
    }

    /** The region holding {@code gpa}, or null. Binary search: no allocation. */
    public GuestRegion regionOf(long gpa) {
        if (regions.length == 1) { // the common case: one RAM region below the PCI hole
            GuestRegion r = regions[0];
            return r.contains(gpa) ? r : null;
        }
        int i = Arrays.binarySearch(starts, gpa);
        if (i < 0) {
            i = -i - 2;
        }
        if (i < 0) {
            return null;
        }
        GuestRegion r = regions[i];
        return r.contains(gpa) ? r : null;
    }

    /**
     * A view of {@code [gpa, gpa+len)}; throws if any byte lies outside one region or the
     * range overflows. The view is bounds-checked by the JDK on every access as well.
     */
    public MemorySegment slice(long gpa, long len) throws GuestMemoryException {
        if (len < 0 || gpa < 0) {
            throw new GuestMemoryException("bad guest range 0x" + Long.toHexString(gpa) + "+" + len);
        }
        GuestRegion r = regionOf(gpa);
        if (r == null) {
            throw new GuestMemoryException("guest address 0x" + Long.toHexString(gpa) + " is not in guest memory");
        }
        long off = gpa - r.guestAddress();
        if (len > r.size() - off) {
            throw new GuestMemoryException("guest range 0x" + Long.toHexString(gpa) + "+" + len
                    + " runs past the end of its memory region");
        }
        return r.mapping().asSlice(off, len);
    }

    /**
     * The region holding all of {@code [gpa, gpa+len)}, or null if any byte lies outside one
     * region or the range is negative: {@link #slice}'s check without allocating a view (a
     * queue's hot path keeps (region, offset, length) and copies through the region's mapping,
     * which the JDK bounds-checks as well).
     */
    public GuestRegion regionFor(long gpa, long len) {
        if (len < 0 || gpa < 0) {
            return null;
        }
        GuestRegion r = regionOf(gpa);
        return r != null && len <= r.size() - (gpa - r.guestAddress()) ? r : null;
    }

    public boolean isValidRange(long gpa, long len) {
        if (len < 0 || gpa < 0) {
            return false;
        }
        GuestRegion r = regionOf(gpa);
        return r != null && len <= r.size() - (gpa - r.guestAddress());
    }

    public int readU16(long gpa) throws GuestMemoryException {
        return Short.toUnsignedInt(slice(gpa, 2).get(U16, 0));
    }

    public int readU32(long gpa) throws GuestMemoryException {
        return slice(gpa, 4).get(U32, 0);
    }

    public long readU64(long gpa) throws GuestMemoryException {
        return slice(gpa, 8).get(U64, 0);
    }

    public void writeU16(long gpa, int value) throws GuestMemoryException {
        slice(gpa, 2).set(U16, 0, (short) value);
    }

    public void writeU32(long gpa, int value) throws GuestMemoryException {
        slice(gpa, 4).set(U32, 0, value);
    }

    public void writeU64(long gpa, long value) throws GuestMemoryException {
        slice(gpa, 8).set(U64, 0, value);
    }

    public void write(long gpa, byte[] bytes) throws GuestMemoryException {
        MemorySegment.copy(bytes, 0, slice(gpa, bytes.length), ValueLayout.JAVA_BYTE, 0, bytes.length);
    }

    public byte[] read(long gpa, int len) throws GuestMemoryException {
        return slice(gpa, len).toArray(ValueLayout.JAVA_BYTE);
    }
}
