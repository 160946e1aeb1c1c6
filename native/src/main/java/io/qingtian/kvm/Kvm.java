package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import io.qingtian.sys.Errno;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.NativeCall;
import io.qingtian.sys.UserError;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The KVM system handle: an open {@code /dev/kvm} (the kvm-ioctls {@code Kvm} of rust-vmm).
 * Creating it checks the API version, so every later ioctl can assume API 12
 * (Documentation/virt/kvm/api.rst, 4.1 KVM_GET_API_VERSION).
 */
public final class Kvm implements AutoCloseable {
    /** The only stable KVM API version (api.rst: "applications should refuse to run" otherwise). */
    public static final int API_VERSION = 12;
    /** Upper bound for KVM_GET_SUPPORTED_CPUID entries we ask for (KVM_MAX_CPUID_ENTRIES is 256). */
    private static final int MAX_CPUID_ENTRIES = 256;
    private static final int E2BIG = 7;
    private static final int ENXIO = 6;

    private final int fd;
    private final int vcpuMmapSize;
    private volatile KvmFlavour flavour;

    private Kvm(int fd) {
        this.fd = fd;
        this.vcpuMmapSize = Libc.ioctl(fd, KvmIoctls.KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
    }

    /** Opens /dev/kvm. A missing device or a permission problem is a {@link UserError}. */
    public static Kvm open() {
        return open("/dev/kvm");
    }

    public static Kvm open(String path) {
        int fd;
        try {
            fd = Libc.open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        } catch (LinuxException e) {
            throw switch (e.errno()) {
                case Errno.ENOENT, Errno.ENODEV, ENXIO -> new UserError(path
                        + " does not exist: this host has no KVM (load kvm_intel or kvm_amd, or run guests in the lab: ./qt lab run)");
                case Errno.EACCES, Errno.EPERM -> new UserError("no permission to open " + path
                        + ": add your user to the group owning it (usually 'kvm') or run as root");
                default -> new UserError("cannot open " + path + ": " + Errno.describe(e.errno()));
            };
        }
        try {
            int version = Libc.ioctl(fd, KvmIoctls.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
            if (version != API_VERSION) {
                throw new UserError(path + " speaks KVM API version " + version + ", this hypervisor needs " + API_VERSION);
            }
            return new Kvm(fd);
        } catch (RuntimeException e) {
            Libc.closeQuietly(fd);
            throw e;
        }
    }

    public int fd() {
        return fd;
    }

    public int apiVersion() {
        return Libc.ioctl(fd, KvmIoctls.KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
    }

    /** KVM_CHECK_EXTENSION: 0 if unsupported, otherwise 1 or a capability-specific value. */
    public int checkExtension(int cap) {
        return Libc.ioctl(fd, KvmIoctls.KVM_CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION");
    }

    /** Size of the per-vCPU shared kvm_run mapping. */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** The recommended vCPU limit (KVM_CAP_NR_VCPUS; api.rst says 4 if the cap is absent). */
    public int recommendedVcpus() {
        int n = checkExtension(KvmCap.NR_VCPUS);
        return n > 0 ? n : 4;
    }

    /** The hard vCPU limit (KVM_CAP_MAX_VCPUS, falling back to the recommended count). */
    public int maxVcpus() {
        int n = checkExtension(KvmCap.MAX_VCPUS);
        return n > 0 ? n : recommendedVcpus();
    }

    /** The kind of KVM this host has, detected once. */
    public KvmFlavour flavour() {
        KvmFlavour f = flavour;
        if (f == null) {
            f = KvmFlavour.detect();
            flavour = f;
        }
        return f;
    }

    /** KVM_GET_SUPPORTED_CPUID: what this KVM and CPU can expose to a guest. */
    public List<CpuidEntry> supportedCpuid() {
        int capacity = MAX_CPUID_ENTRIES;
        while (true) {
            try (Arena a = Arena.ofConfined()) {
                long entry = KvmLayouts.CPUID_ENTRY2.byteSize();
                MemorySegment buf = a.allocate(KvmLayouts.CPUID2.byteSize() + capacity * entry, 8);
                buf.set(JAVA_INT, 0, capacity);
                int r = Libc.ioctlRaw(fd, KvmIoctls.KVM_GET_SUPPORTED_CPUID, buf);
                if (r < 0) {
                    int errno = NativeCall.errno();
                    if (errno == E2BIG && capacity < 4096) {
                        capacity *= 2;
                        continue;
                    }
                    throw new LinuxException("KVM_GET_SUPPORTED_CPUID", errno);
                }
                int n = buf.get(JAVA_INT, 0);
                List<CpuidEntry> out = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    out.add(CpuidEntry.read(buf.asSlice(KvmLayouts.CPUID2.byteSize() + i * entry, entry)));
                }
                return List.copyOf(out);
            }
        }
    }

    /** KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for a vCPU. */
    public int[] msrIndexList() {
        int capacity = 256;
        while (true) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(4L + 4L * capacity, 4);
                buf.set(JAVA_INT, 0, capacity);
                int r = Libc.ioctlRaw(fd, KvmIoctls.KVM_GET_MSR_INDEX_LIST, buf);
                if (r < 0) {
                    int errno = NativeCall.errno();
                    if (errno == E2BIG && capacity < 65536) {
                        capacity = Math.max(capacity * 2, buf.get(JAVA_INT, 0));
                        continue;
                    }
                    throw new LinuxException("KVM_GET_MSR_INDEX_LIST", errno);
                }
                int n = buf.get(JAVA_INT, 0);
                int[] out = new int[n];
                MemorySegment.copy(buf, JAVA_INT, 4, out, 0, n);
                return out;
            }
        }
    }

    /** KVM_CREATE_VM with the default machine type. */
    public KvmVm createVm() {
        int vmFd = Libc.ioctl(fd, KvmIoctls.KVM_CREATE_VM, 0, "KVM_CREATE_VM");
        return new KvmVm(this, vmFd);
    }

    @Override
    public void close() {
        Libc.closeQuietly(fd);
    }
}
