package io.qingtian.vhostuser.backend;

import io.qingtian.sys.Fds;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.memory.GuestRegion;
import io.qingtian.vhostuser.protocol.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The front-end's memory as the back-end sees it after SET_MEM_TABLE: every region's fd is
 * mapped MAP_SHARED, and two views index the same mappings — by guest-physical address
 * (descriptor buffers) and by front-end user address (ring addresses in SET_VRING_ADDR, as
 * the specification says). Each fd is checked to be long enough before it is mapped, so a
 * short memfd cannot make a later access fault.
 */
public final class MemoryTable implements AutoCloseable {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(MemoryTable.class.getName());
    private final List<MemorySegment> mappings;
    private final GuestMemory byGuestAddress;
    private final GuestMemory byUserAddress;

    private MemoryTable(List<MemorySegment> mappings, GuestMemory byGuestAddress, GuestMemory byUserAddress) {
        this.mappings = mappings;
        this.byGuestAddress = byGuestAddress;
        this.byUserAddress = byUserAddress;
    }

    /**
     * Maps every region (fd i backs region i). Does not close the fds. Throws
     * IllegalArgumentException with a reason when a region is inconsistent.
     */
    public static MemoryTable map(List<MemoryRegion> regions, int[] fds) {
        List<MemorySegment> maps = new ArrayList<>();
        try {
            List<GuestRegion> gpa = new ArrayList<>();
            List<GuestRegion> uva = new ArrayList<>();
            for (int i = 0; i < regions.size(); i++) {
                MemoryRegion r = regions.get(i);
                long need = r.mmapOffset() + r.memorySize();
                if (need < 0) {
                    throw new IllegalArgumentException("region " + i + " offset+size overflows");
                }
                long have = Fds.size(fds[i]);
                int seals = Fds.seals(fds[i]);
                if (seals >= 0 && (seals & Fds.F_SEAL_SHRINK) == 0) {
                    // An unsealed memfd can be truncated under us later; touching the lost
                    // pages would fault (SIGBUS). QEMU seals its memfds by default.
                    LOG.warning("memory region " + i + " is a memfd without F_SEAL_SHRINK: a front-end that "
                            + "shrinks it can fault this back-end");
                }
                if (have < need) {
                    throw new IllegalArgumentException("region " + i + " needs " + need + " bytes of its fd, which has " + have);
                }
                if (r.userspaceAddr() < 0 || r.userspaceAddr() + r.memorySize() < 0) {
                    throw new IllegalArgumentException("region " + i + " user address out of range");
                }
                // mmap offsets must be page aligned; mmap_offset need not be, so map from 0
                // and slice (as libvhost-user does).
                MemorySegment whole = Libc.mmap(need, Libc.PROT_READ | Libc.PROT_WRITE,
                        Libc.MAP_SHARED | Libc.MAP_NORESERVE, fds[i], 0);
                maps.add(whole);
                MemorySegment region = whole.asSlice(r.mmapOffset(), r.memorySize());
                gpa.add(new GuestRegion(r.guestPhysAddr(), region, -1, r.mmapOffset()));
                uva.add(new GuestRegion(r.userspaceAddr(), region, -1, r.mmapOffset()));
            }
            return new MemoryTable(List.copyOf(maps), new GuestMemory(gpa), new GuestMemory(uva));
        } catch (RuntimeException e) {
            for (MemorySegment m : maps) {
                Libc.munmap(m);
            }
            throw e instanceof IllegalArgumentException ? e : new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** Guest-physical view: what descriptors point into. */
    public GuestMemory guestMemory() {
        return byGuestAddress;
    }

    /** A ring given by front-end user address, bounds-checked against one region. */
    public MemorySegment ring(long userAddress, long bytes) throws GuestMemoryException {
        return byUserAddress.slice(userAddress, bytes);
    }

    /** Unmaps every region; only after every worker using this table has stopped. */
    @Override
    public void close() {
        for (MemorySegment m : mappings) {
            Libc.munmap(m);
        }
    }
}
