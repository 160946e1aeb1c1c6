package io.qingtian.hypervisor.memory;

import io.qingtian.hypervisor.x86.X86Layout;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.Madvise;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM's RAM, split around the 32-bit MMIO hole: up to 3 GiB at guest-physical 0, the rest
 * at 4 GiB, registered as KVM memory slots 0 and 1. By default one memfd mapped MAP_SHARED,
 * so the card's vhost-user backends can map the same pages (see {@link Backing}).
 */
public final class GuestRam implements AutoCloseable {
    private final int memfd;
    private final List<MemorySegment> mappings;
    private final GuestMemory memory;
    private final long lowBytes;
    private final long highBytes;

    private GuestRam(int memfd, List<MemorySegment> mappings, GuestMemory memory, long lowBytes, long highBytes) {
        this.memfd = memfd;
        this.mappings = mappings;
        this.memory = memory;
        this.lowBytes = lowBytes;
        this.highBytes = highBytes;
    }

    /** Bytes of RAM below the hole for {@code total} bytes of RAM. */
    public static long lowBytes(long total) {
        return Math.min(total, X86Layout.MMIO_HOLE_START);
    }

    /** Bytes of RAM above 4 GiB for {@code total} bytes of RAM. */
    public static long highBytes(long total) {
        return total - lowBytes(total);
    }

    /**
     * How guest RAM is backed on the host.
     * <ul>
     *   <li>{@link #SHARED_MEMFD}: one memfd mapped MAP_SHARED; another process (the card's
     *       vhost-user backends) can map the same pages. shmem gets transparent huge pages only
     *       when the host allows it (transparent_hugepage/shmem_enabled), so nested paging
     *       works with 4 KiB pages.</li>
     *   <li>{@link #PRIVATE_ANONYMOUS}: private anonymous memory with MADV_HUGEPAGE: 2 MiB
     *       pages on a default host, far fewer nested-paging faults (measured in the lab: the
     *       stock kernel's first console output came about 2x sooner), but no sharing.</li>
     * </ul>
     */
    public enum Backing { SHARED_MEMFD, PRIVATE_ANONYMOUS }

    /** Creates {@code total} bytes (a multiple of 4 KiB) of zeroed, lazily allocated, shareable guest RAM. */
    public static GuestRam allocate(long total) {
        return allocate(total, Backing.SHARED_MEMFD);
    }

    /** Creates {@code total} bytes (a multiple of 4 KiB) of zeroed, lazily allocated guest RAM. */
    public static GuestRam allocate(long total, Backing backing) {
        if (total <= 0 || (total & 0xfff) != 0) {
            throw new IllegalArgumentException("guest RAM must be a positive multiple of 4 KiB: " + total);
        }
        long low = lowBytes(total);
        long high = highBytes(total);
        boolean anonymous = backing == Backing.PRIVATE_ANONYMOUS;
        int fd = anonymous ? -1 : Libc.memfdCreate("qingtian-guest-ram", Libc.MFD_CLOEXEC);
        List<MemorySegment> maps = new ArrayList<>();
        try {
            if (!anonymous) {
                Libc.ftruncate(fd, total);
            }
            int flags = anonymous ? Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE
                    : Libc.MAP_SHARED | Libc.MAP_NORESERVE;
            List<GuestRegion> regions = new ArrayList<>();
            int prot = Libc.PROT_READ | Libc.PROT_WRITE;
            // MAP_NORESERVE: a 256 MiB guest that touches 100 MiB costs 100 MiB.
            MemorySegment lowMap = Libc.mmap(low, prot, flags, fd, 0);
            maps.add(lowMap);
            regions.add(new GuestRegion(0, lowMap, fd, 0));
            if (high > 0) {
                MemorySegment highMap = Libc.mmap(high, prot, flags, fd, anonymous ? 0 : low);
                maps.add(highMap);
                regions.add(new GuestRegion(X86Layout.MMIO_HOLE_END, highMap, fd, anonymous ? 0 : low));
            }
            for (MemorySegment m : maps) {
                // Huge pages mean fewer nested-paging faults and TLB misses; a hint the host may ignore
                // (for memfd it needs /sys/kernel/mm/transparent_hugepage/shmem_enabled = advise).
                Madvise.tryAdvise(m, Madvise.MADV_HUGEPAGE);
                Madvise.tryAdvise(m, Madvise.MADV_DONTDUMP);
            }
            return new GuestRam(fd, List.copyOf(maps), new GuestMemory(regions), low, high);
        } catch (RuntimeException e) {
            for (MemorySegment m : maps) {
                Libc.munmap(m);
            }
            Libc.closeQuietly(fd);
            throw e;
        }
    }

    /**
     * Guest RAM restored from a snapshot's memory file (issue 8), laid out as the memfd is (low
     * RAM at offset 0, high RAM after it). MAP_PRIVATE: nothing is copied, pages are read from
     * the file (page cache) when the guest first touches them and copied only when it writes
     * them, so restore time does not grow with guest size. Private memory cannot be shared with
     * vhost-user backends (fd -1 in the regions): the snapshot code copies into a memfd instead
     * when the VM has such devices.
     */
    public static GuestRam mapPrivateFile(java.nio.file.Path file, long total) {
        long low = lowBytes(total);
        long high = highBytes(total);
        int fd = Libc.open(file.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        List<MemorySegment> maps = new ArrayList<>();
        try {
            int prot = Libc.PROT_READ | Libc.PROT_WRITE;
            int flags = Libc.MAP_PRIVATE | Libc.MAP_NORESERVE;
            List<GuestRegion> regions = new ArrayList<>();
            MemorySegment lowMap = Libc.mmap(low, prot, flags, fd, 0);
            maps.add(lowMap);
            regions.add(new GuestRegion(0, lowMap, -1, 0));
            if (high > 0) {
                MemorySegment highMap = Libc.mmap(high, prot, flags, fd, low);
                maps.add(highMap);
                regions.add(new GuestRegion(X86Layout.MMIO_HOLE_END, highMap, -1, 0));
            }
            return new GuestRam(-1, List.copyOf(maps), new GuestMemory(regions), low, high);
        } catch (RuntimeException e) {
            for (MemorySegment m : maps) {
                Libc.munmap(m);
            }
            throw e;
        } finally {
            Libc.closeQuietly(fd); // the mappings keep the file
        }
    }

    /** Registers every region as a KVM memory slot, in address order from slot 0. */
    public void register(KvmVm vm) {
        int slot = 0;
        for (GuestRegion r : memory.regions()) {
            vm.setUserMemoryRegion(slot++, 0, r.guestAddress(), r.mapping());
        }
    }

    public GuestMemory memory() {
        return memory;
    }

    public int memfd() {
        return memfd;
    }

    public long lowBytes() {
        return lowBytes;
    }

    public long highBytes() {
        return highBytes;
    }

    public long totalBytes() {
        return lowBytes + highBytes;
    }

    @Override
    public void close() {
        for (MemorySegment m : mappings) {
            try {
                Libc.munmap(m);
            } catch (LinuxException ignored) {
                // best effort at teardown
            }
        }
        Libc.closeQuietly(memfd);
    }
}
