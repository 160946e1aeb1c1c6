package io.qingtian.vhostuser.protocol;

/**
 * One region of a vhost-user memory table (VhostUserMemoryRegion): where the region is in
 * guest-physical space, where the front-end mapped it (ring addresses are front-end user
 * addresses), and the offset of the region inside the fd that travels with it.
 */
public record MemoryRegion(long guestPhysAddr, long memorySize, long userspaceAddr, long mmapOffset) {
    public MemoryRegion {
        if (memorySize <= 0) {
            throw new IllegalArgumentException("memory region of size " + memorySize);
        }
    }
}
