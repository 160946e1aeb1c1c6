package io.qingtian.vhostuser.protocol;

import java.util.Arrays;
import java.util.List;

/**
 * A decoded front-end request; one record per request this project speaks, {@link Other}
 * for a defined request it does not model. Records that carry fds own them until handed on.
 */
public sealed interface Request {
    RequestCode code();

    /** File descriptors that came with the request (closed by whoever drops the request). */
    default int[] fds() {
        return new int[0];
    }

    record GetFeatures() implements Request {
        public RequestCode code() { return RequestCode.GET_FEATURES; }
    }

    record SetFeatures(long features) implements Request {
        public RequestCode code() { return RequestCode.SET_FEATURES; }
    }

    record GetProtocolFeatures() implements Request {
        public RequestCode code() { return RequestCode.GET_PROTOCOL_FEATURES; }
    }

    record SetProtocolFeatures(long features) implements Request {
        public RequestCode code() { return RequestCode.SET_PROTOCOL_FEATURES; }
    }

    record SetOwner() implements Request {
        public RequestCode code() { return RequestCode.SET_OWNER; }
    }

    record ResetOwner() implements Request {
        public RequestCode code() { return RequestCode.RESET_OWNER; }
    }

    /** SET_MEM_TABLE: region i is backed by fds[i]. */
    record SetMemTable(List<MemoryRegion> regions, int[] regionFds) implements Request {
        public SetMemTable {
            regions = List.copyOf(regions);
            regionFds = regionFds.clone();
            if (regions.size() != regionFds.length) {
                throw new IllegalArgumentException(regions.size() + " regions but " + regionFds.length + " fds");
            }
        }
        public RequestCode code() { return RequestCode.SET_MEM_TABLE; }
        @Override public int[] fds() { return regionFds.clone(); }
        @Override public boolean equals(Object o) {
            return o instanceof SetMemTable m && regions.equals(m.regions) && Arrays.equals(regionFds, m.regionFds);
        }
        @Override public int hashCode() { return regions.hashCode() * 31 + Arrays.hashCode(regionFds); }
    }

    record SetVringNum(int index, int num) implements Request {
        public RequestCode code() { return RequestCode.SET_VRING_NUM; }
    }

    record SetVringBase(int index, int num) implements Request {
        public RequestCode code() { return RequestCode.SET_VRING_BASE; }
    }

    record GetVringBase(int index) implements Request {
        public RequestCode code() { return RequestCode.GET_VRING_BASE; }
    }

    /** Ring addresses are front-end user addresses (or guest-physical with a vIOMMU, unsupported). */
    record SetVringAddr(int index, int flags, long descUserAddr, long usedUserAddr, long availUserAddr,
                        long logGuestAddr) implements Request {
        public RequestCode code() { return RequestCode.SET_VRING_ADDR; }
    }

    /** SET_VRING_KICK/CALL/ERR: {@code fd} is -1 when the NOFD flag was set. */
    record SetVringFd(RequestCode code, int index, int fd) implements Request {
        public SetVringFd {
            if (code != RequestCode.SET_VRING_KICK && code != RequestCode.SET_VRING_CALL
                    && code != RequestCode.SET_VRING_ERR) {
                throw new IllegalArgumentException(code + " is not a vring fd request");
            }
        }
        @Override public int[] fds() { return fd < 0 ? new int[0] : new int[] {fd}; }
    }

    record GetQueueNum() implements Request {
        public RequestCode code() { return RequestCode.GET_QUEUE_NUM; }
    }

    record SetVringEnable(int index, boolean enable) implements Request {
        public RequestCode code() { return RequestCode.SET_VRING_ENABLE; }
    }

    /** GET_CONFIG: the front-end sends {@code size} bytes it expects back (contents ignored). */
    record GetConfig(int offset, int size, int flags) implements Request {
        public RequestCode code() { return RequestCode.GET_CONFIG; }
    }

    record SetConfig(int offset, int flags, byte[] data) implements Request {
        public SetConfig { data = data.clone(); }
        public RequestCode code() { return RequestCode.SET_CONFIG; }
        @Override public boolean equals(Object o) {
            return o instanceof SetConfig c && offset == c.offset && flags == c.flags && Arrays.equals(data, c.data);
        }
        @Override public int hashCode() { return Arrays.hashCode(data) * 31 + offset; }
    }

    record GetMaxMemSlots() implements Request {
        public RequestCode code() { return RequestCode.GET_MAX_MEM_SLOTS; }
    }

    /**
     * GET_INFLIGHT_FD (vhost-user.rst "Inflight I/O tracking"): the front-end names the queue
     * count and size; the back-end answers with a shared region and its size/offset.
     */
    record GetInflightFd(int numQueues, int queueSize) implements Request {
        public RequestCode code() { return RequestCode.GET_INFLIGHT_FD; }
    }

    /** SET_INFLIGHT_FD: the region (fd, size, offset) the back-end must track in-flight requests in. */
    record SetInflightFd(long mmapSize, long mmapOffset, int numQueues, int queueSize, int fd) implements Request {
        public RequestCode code() { return RequestCode.SET_INFLIGHT_FD; }
        @Override public int[] fds() { return new int[] {fd}; }
    }

    /** A defined request this project does not model; the back-end refuses it. */
    record Other(RequestCode code, byte[] payload, int[] otherFds) implements Request {
        public Other { payload = payload.clone(); otherFds = otherFds.clone(); }
        @Override public int[] fds() { return otherFds.clone(); }
        @Override public boolean equals(Object o) {
            return o instanceof Other x && code == x.code && Arrays.equals(payload, x.payload) && Arrays.equals(otherFds, x.otherFds);
        }
        @Override public int hashCode() { return code.hashCode() * 31 + Arrays.hashCode(payload); }
    }
}
