package io.qingtian.vhostuser.frontend;

import io.qingtian.sys.Libc;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import io.qingtian.virtio.memory.GuestMemoryException;
import io.qingtian.virtio.queue.DriverQueue;

/**
 * One split virtqueue a front-end drives (tools, tests, benchmarks): its three rings in shared
 * memory, its kick and call eventfds, and the SET_VRING_* sequence that hands it to the
 * back-end (vhost-user.rst "Starting and stopping rings"). Negotiation and the memory table
 * come first.
 */
public record FrontendRing(DriverQueue queue, int kickFd, int callFd) {
    /** Allocates ring {@code index} of {@code size} entries in {@code region} and starts it on the back-end. */
    public static FrontendRing start(VhostUserFrontend fe, SharedMemory mem, int region, int index, int size,
                                     boolean eventIdx) throws VhostUserProtocolException, GuestMemoryException {
        long desc = mem.allocate(region, 16L * size, 4096);
        long avail = mem.allocate(region, 6 + 2L * size, 4096);
        long used = mem.allocate(region, 6 + 8L * size, 4096);
        DriverQueue q = new DriverQueue(mem.memory(), size, desc, avail, used, eventIdx);
        int kick = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        int call = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        fe.setVringNum(index, size);
        fe.setVringBase(index, 0);
        fe.setVringAddr(index, mem.userAddress(desc), mem.userAddress(used), mem.userAddress(avail));
        fe.setVringKick(index, kick);
        fe.setVringCall(index, call);
        fe.setVringEnable(index, true);
        return new FrontendRing(q, kick, call);
    }
}
