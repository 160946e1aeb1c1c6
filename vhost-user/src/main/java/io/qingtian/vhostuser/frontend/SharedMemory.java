package io.qingtian.vhostuser.frontend;

import io.qingtian.sys.Fds;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import io.qingtian.vhostuser.protocol.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * "Guest memory" a front-end shares with a back-end: one memfd, mapped MAP_SHARED, split into
 * regions placed at chosen guest-physical addresses (so the back-end must translate
 * guest-physical and user addresses separately, and honour mmap_offset). Hands out space
 * with a bump allocator per region.
 */
public final class SharedMemory implements AutoCloseable {
    private final int fd;
    private final MemorySegment mapping;
    private final List<MemoryRegion> regions;
    private final GuestMemory memory;
    private final long[] next;

    /**
     * @param gpas  guest-physical start of each region (page aligned)
     * @param sizes size of each region (page multiples)
     */
    public SharedMemory(long[] gpas, long[] sizes) {
        long total = 0;
        for (long s : sizes) {
            total += s;
        }
        fd = Libc.memfdCreate("qt-frontend-mem", Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
        Libc.ftruncate(fd, total);
        // Like QEMU's memory-backend-memfd: the back-end may rely on the size never changing.
        Fds.addSeals(fd, Fds.F_SEAL_SHRINK | Fds.F_SEAL_GROW | Fds.F_SEAL_SEAL);
        mapping = Libc.mmap(total, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        List<MemoryRegion> rs = new ArrayList<>();
        List<GuestRegion> gr = new ArrayList<>();
        long off = 0;
        for (int i = 0; i < gpas.length; i++) {
            MemorySegment slice = mapping.asSlice(off, sizes[i]);
            rs.add(new MemoryRegion(gpas[i], sizes[i], slice.address(), off));
            gr.add(new GuestRegion(gpas[i], slice, fd, off));
            off += sizes[i];
        }
        regions = List.copyOf(rs);
        memory = new GuestMemory(gr);
        next = gpas.clone();
    }

    public int fd() {
        return fd;
    }

    public List<MemoryRegion> regions() {
        return regions;
    }

    /** The memfd once per region, as SET_MEM_TABLE wants. */
    public int[] regionFds() {
        int[] fds = new int[regions.size()];
        java.util.Arrays.fill(fds, fd);
        return fds;
    }

    public GuestMemory memory() {
        return memory;
    }

    /** Reserves {@code size} bytes aligned to {@code align} in region {@code region}; returns the gpa. */
    public long allocate(int region, long size, long align) {
        long start = (next[region] + align - 1) & -align;
        MemoryRegion r = regions.get(region);
        if (start + size > r.guestPhysAddr() + r.memorySize()) {
            throw new IllegalStateException("shared memory region " + region + " exhausted");
        }
        next[region] = start + size;
        return start;
    }

    /** The front-end user address of guest-physical {@code gpa} (for SET_VRING_ADDR). */
    public long userAddress(long gpa) {
        for (MemoryRegion r : regions) {
            if (gpa >= r.guestPhysAddr() && gpa - r.guestPhysAddr() < r.memorySize()) {
                return r.userspaceAddr() + (gpa - r.guestPhysAddr());
            }
        }
        throw new IllegalArgumentException("gpa 0x" + Long.toHexString(gpa) + " not in shared memory");
    }

    /** Host view of [gpa, gpa+len). */
    public MemorySegment slice(long gpa, long len) {
        try {
            return memory.slice(gpa, len);
        } catch (io.qingtian.virtio.memory.GuestMemoryException e) {
            throw new IllegalArgumentException(e.getMessage());
        }
    }

    @Override
    public void close() {
        Libc.munmap(mapping);
        Libc.closeQuietly(fd);
    }
}
