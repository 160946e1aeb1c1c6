package io.qingtian.hypervisor.memory;

import io.qingtian.hypervisor.x86.X86Layout;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM's RAM: one memfd mapped MAP_SHARED (so the card's vhost-user backends can map the
 * same pages later), split around the 32-bit MMIO hole: up to 3 GiB at guest-physical 0,
 * the rest at 4 GiB. The regions are registered as KVM memory slots 0 and 1.
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

    /** Creates {@code total} bytes (a multiple of 4 KiB) of zeroed, lazily allocated guest RAM. */
    public static GuestRam allocate(long total) {
        if (total <= 0 || (total & 0xfff) != 0) {
            throw new IllegalArgumentException("guest RAM must be a positive multiple of 4 KiB: " + total);
        }
        long low = lowBytes(total);
        long high = highBytes(total);
        int fd = Libc.memfdCreate("qingtian-guest-ram", Libc.MFD_CLOEXEC);
        List<MemorySegment> maps = new ArrayList<>();
        try {
            Libc.ftruncate(fd, total);
            List<GuestRegion> regions = new ArrayList<>();
            int prot = Libc.PROT_READ | Libc.PROT_WRITE;
            // MAP_NORESERVE: a 256 MiB guest that touches 100 MiB costs 100 MiB.
            MemorySegment lowMap = Libc.mmap(low, prot, Libc.MAP_SHARED | Libc.MAP_NORESERVE, fd, 0);
            maps.add(lowMap);
            regions.add(new GuestRegion(0, lowMap, fd, 0));
            if (high > 0) {
                MemorySegment highMap = Libc.mmap(high, prot, Libc.MAP_SHARED | Libc.MAP_NORESERVE, fd, low);
                maps.add(highMap);
                regions.add(new GuestRegion(X86Layout.MMIO_HOLE_END, highMap, fd, low));
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
