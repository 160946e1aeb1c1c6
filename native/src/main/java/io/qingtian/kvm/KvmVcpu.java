package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.NativeCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A vCPU fd and its mmap'd {@link KvmRun} (kvm-ioctls {@code VcpuFd}). vCPU ioctls must be
 * issued from the thread that runs the vCPU once it has started running (api.rst, 4.
 * "vcpu ioctls ... must be issued from the same thread that was used to create the vcpu",
 * relaxed on x86 in practice, but we keep to it after start).
 */
public final class KvmVcpu implements AutoCloseable {
    /** KVM_MP_STATE_* values. */
    public static final int MP_STATE_RUNNABLE = 0;
    public static final int MP_STATE_UNINITIALIZED = 1;
    public static final int MP_STATE_INIT_RECEIVED = 2;
    public static final int MP_STATE_HALTED = 3;
    public static final int MP_STATE_SIPI_RECEIVED = 4;
    /** The kernel's sigset_t size, the only {@code len} KVM_SET_SIGNAL_MASK accepts on x86_64. */
    public static final int KERNEL_SIGSET_SIZE = 8;

    private final int id;
    private final int fd;
    private final MemorySegment runMapping;
    private final KvmRun run;

    KvmVcpu(int id, int fd, MemorySegment runMapping) {
        this.id = id;
        this.fd = fd;
        this.runMapping = runMapping;
        this.run = new KvmRun(runMapping);
    }

    public int id() {
        return id;
    }

    public int fd() {
        return fd;
    }

    /** The shared kvm_run page; valid until {@link #close()}. */
    public KvmRun kvmRun() {
        return run;
    }

    /**
     * KVM_RUN: runs until the next exit. Returns the raw ioctl result (0, or -1 with the errno
     * in {@link NativeCall#errno()}: EINTR when a signal kicked the vCPU, EAGAIN on some
     * hosts) so the loop can decide without an exception or an allocation.
     */
    public int run() {
        return Libc.ioctlRaw(fd, KvmIoctls.KVM_RUN, MemorySegment.NULL);
    }

    public void getRegs(KvmRegs regs) {
        Libc.ioctl(fd, KvmIoctls.KVM_GET_REGS, regs.segment(), "KVM_GET_REGS");
    }

    public KvmRegs getRegs() {
        KvmRegs r = KvmRegs.allocate(Arena.ofAuto());
        getRegs(r);
        return r;
    }

    public void setRegs(KvmRegs regs) {
        Libc.ioctl(fd, KvmIoctls.KVM_SET_REGS, regs.segment(), "KVM_SET_REGS");
    }

    public void getSregs(KvmSregs sregs) {
        Libc.ioctl(fd, KvmIoctls.KVM_GET_SREGS, sregs.segment(), "KVM_GET_SREGS");
    }

    public KvmSregs getSregs() {
        KvmSregs s = KvmSregs.allocate(Arena.ofAuto());
        getSregs(s);
        return s;
    }

    public void setSregs(KvmSregs sregs) {
        Libc.ioctl(fd, KvmIoctls.KVM_SET_SREGS, sregs.segment(), "KVM_SET_SREGS");
    }

    public KvmFpu getFpu() {
        KvmFpu f = KvmFpu.allocate(Arena.ofAuto());
        Libc.ioctl(fd, KvmIoctls.KVM_GET_FPU, f.segment(), "KVM_GET_FPU");
        return f;
    }

    public void setFpu(KvmFpu fpu) {
        Libc.ioctl(fd, KvmIoctls.KVM_SET_FPU, fpu.segment(), "KVM_SET_FPU");
    }

    public KvmLapicState getLapic() {
        KvmLapicState l = KvmLapicState.allocate(Arena.ofAuto());
        Libc.ioctl(fd, KvmIoctls.KVM_GET_LAPIC, l.segment(), "KVM_GET_LAPIC");
        return l;
    }

    public void setLapic(KvmLapicState lapic) {
        Libc.ioctl(fd, KvmIoctls.KVM_SET_LAPIC, lapic.segment(), "KVM_SET_LAPIC");
    }

    /** KVM_SET_CPUID2: what CPUID returns in this vCPU. Before the first KVM_RUN. */
    public void setCpuid2(List<CpuidEntry> entries) {
        long entry = KvmLayouts.CPUID_ENTRY2.byteSize();
        long head = KvmLayouts.CPUID2.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(head + entry * entries.size(), 8);
            s.set(JAVA_INT, 0, entries.size());
            for (int i = 0; i < entries.size(); i++) {
                entries.get(i).write(s.asSlice(head + entry * i, entry));
            }
            Libc.ioctl(fd, KvmIoctls.KVM_SET_CPUID2, s, "KVM_SET_CPUID2");
        }
    }

    /** KVM_GET_CPUID2: the CPUID table this vCPU has. */
    public List<CpuidEntry> getCpuid2() {
        int capacity = 256;
        long entry = KvmLayouts.CPUID_ENTRY2.byteSize();
        long head = KvmLayouts.CPUID2.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(head + entry * capacity, 8);
            s.set(JAVA_INT, 0, capacity);
            Libc.ioctl(fd, KvmIoctls.KVM_GET_CPUID2, s, "KVM_GET_CPUID2");
            int n = s.get(JAVA_INT, 0);
            List<CpuidEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(CpuidEntry.read(s.asSlice(head + entry * i, entry)));
            }
            return List.copyOf(out);
        }
    }

    /** KVM_SET_MSRS; throws if KVM accepted fewer than all of them (names the first refused MSR). */
    public void setMsrs(List<MsrEntry> msrs) {
        long entry = KvmLayouts.MSR_ENTRY.byteSize();
        long head = KvmLayouts.MSRS.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(head + entry * msrs.size(), 8);
            s.set(JAVA_INT, 0, msrs.size());
            for (int i = 0; i < msrs.size(); i++) {
                s.set(JAVA_INT, head + entry * i, msrs.get(i).index());
                s.set(JAVA_LONG, head + entry * i + 8, msrs.get(i).data());
            }
            int n = Libc.ioctl(fd, KvmIoctls.KVM_SET_MSRS, s, "KVM_SET_MSRS");
            if (n != msrs.size()) {
                throw new IllegalStateException("KVM_SET_MSRS set " + n + " of " + msrs.size()
                        + " MSRs; refused: " + msrs.get(n));
            }
        }
    }

    /** KVM_GET_MSRS for {@code indices}; returns the ones KVM could read, in order. */
    public List<MsrEntry> getMsrs(int... indices) {
        long entry = KvmLayouts.MSR_ENTRY.byteSize();
        long head = KvmLayouts.MSRS.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(head + entry * indices.length, 8);
            s.set(JAVA_INT, 0, indices.length);
            for (int i = 0; i < indices.length; i++) {
                s.set(JAVA_INT, head + entry * i, indices[i]);
            }
            int n = Libc.ioctl(fd, KvmIoctls.KVM_GET_MSRS, s, "KVM_GET_MSRS");
            List<MsrEntry> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                out.add(new MsrEntry(s.get(JAVA_INT, head + entry * i), s.get(JAVA_LONG, head + entry * i + 8)));
            }
            return out;
        }
    }

    public int getMpState() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmLayouts.MP_STATE);
            Libc.ioctl(fd, KvmIoctls.KVM_GET_MP_STATE, s, "KVM_GET_MP_STATE");
            return s.get(JAVA_INT, 0);
        }
    }

    public void setMpState(int state) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmLayouts.MP_STATE);
            s.set(JAVA_INT, 0, state);
            Libc.ioctl(fd, KvmIoctls.KVM_SET_MP_STATE, s, "KVM_SET_MP_STATE");
        }
    }

    /**
     * KVM_SET_SIGNAL_MASK: the signal mask in effect while this vCPU is inside KVM_RUN.
     * {@code sigset} is a kernel sigset (8 bytes, bit n-1 = signal n); null removes the mask.
     */
    public void setSignalMask(MemorySegment sigset) {
        if (sigset == null) {
            Libc.ioctl(fd, KvmIoctls.KVM_SET_SIGNAL_MASK, MemorySegment.NULL, "KVM_SET_SIGNAL_MASK");
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4 + KERNEL_SIGSET_SIZE, 4);
            s.set(JAVA_INT, 0, KERNEL_SIGSET_SIZE);
            MemorySegment.copy(sigset, 0, s, 4, KERNEL_SIGSET_SIZE);
            Libc.ioctl(fd, KvmIoctls.KVM_SET_SIGNAL_MASK, s, "KVM_SET_SIGNAL_MASK");
        }
    }

    /** KVM_GET_TSC_KHZ (KVM_CAP_GET_TSC_KHZ). */
    public int tscKhz() {
        return Libc.ioctl(fd, KvmIoctls.KVM_GET_TSC_KHZ, 0, "KVM_GET_TSC_KHZ");
    }

    @Override
    public void close() {
        try {
            Libc.munmap(runMapping);
        } catch (LinuxException ignored) {
            // closing anyway
        }
        Libc.closeQuietly(fd);
    }

}
