package io.qingtian.virtio.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous range of guest-physical memory and the host mapping behind it.
 *
 * @param guestAddress guest-physical address of the first byte
 * @param mapping      the host mapping; its byteSize is the region size
 * @param fd           the memfd/file backing the mapping (shared with backends), or -1
 * @param fdOffset     offset of the region inside {@code fd}
 */
public record GuestRegion(long guestAddress, MemorySegment mapping, int fd, long fdOffset) {
    public GuestRegion {
        if (guestAddress < 0 || mapping.byteSize() <= 0) {
            throw new IllegalArgumentException("bad region at 0x" + Long.toHexString(guestAddress));
        }
        if (guestAddress + mapping.byteSize() < guestAddress) {
            throw new IllegalArgumentException("region wraps the address space");
        }
    }

    public long size() {
        return mapping.byteSize();
    }

    /** One past the last guest address of the region. */
    public long end() {
        return guestAddress + mapping.byteSize();
    }

    public boolean contains(long gpa) {
        return gpa >= guestAddress && gpa - guestAddress < mapping.byteSize();
    }
}
