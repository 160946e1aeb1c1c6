package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.NativeCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A KVM virtual machine fd: memory slots, the in-kernel irqchip and PIT, interrupt lines,
 * irqfd/ioeventfd and GSI routing (kvm-ioctls {@code VmFd}). Thread-safe: KVM serialises VM
 * ioctls itself and each call here uses its own argument memory.
 */
public final class KvmVm implements AutoCloseable {
    /** KVM_MEM_LOG_DIRTY_PAGES / KVM_MEM_READONLY for {@link #setUserMemoryRegion}. */
    public static final int KVM_MEM_LOG_DIRTY_PAGES = 1;
    public static final int KVM_MEM_READONLY = 2;
    /** KVM_PIT_SPEAKER_DUMMY: emulate the PC speaker port 0x61 as a dummy. */
    public static final int KVM_PIT_SPEAKER_DUMMY = 1;
    /** kvm_irqfd.flags. */
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    /** kvm_ioeventfd.flags. */
    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 2;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 4;

    private final Kvm kvm;
    private final int fd;
    /** Per-thread kvm_irq_level, so irqLine() from device threads allocates nothing after the first call. */
    private final ThreadLocal<MemorySegment> irqLevel =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(KvmLayouts.IRQ_LEVEL));

    KvmVm(Kvm kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    public int fd() {
        return fd;
    }

    public Kvm kvm() {
        return kvm;
    }

    /** KVM_CHECK_EXTENSION on the VM fd (some answers are per VM, e.g. MAX_VCPUS). */
    public int checkExtension(int cap) {
        return Libc.ioctl(fd, KvmIoctls.KVM_CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION(vm)");
    }

    /**
     * KVM_SET_USER_MEMORY_REGION: maps {@code host} (its address and size) at guest-physical
     * {@code guestPhysAddr} in {@code slot}. A size of 0 deletes the slot.
     */
    public void setUserMemoryRegion(int slot, int flags, long guestPhysAddr, MemorySegment host) {
        setUserMemoryRegion(slot, flags, guestPhysAddr, host.byteSize(), host.address());
    }

    public void setUserMemoryRegion(int slot, int flags, long guestPhysAddr, long size, long userspaceAddr) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(KvmLayouts.USERSPACE_MEMORY_REGION);
            r.set(JAVA_INT, 0, slot);
            r.set(JAVA_INT, 4, flags);
            r.set(JAVA_LONG, 8, guestPhysAddr);
            r.set(JAVA_LONG, 16, size);
            r.set(JAVA_LONG, 24, userspaceAddr);
            Libc.ioctl(fd, KvmIoctls.KVM_SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION(slot " + slot + ")");
        }
    }

    /** KVM_SET_TSS_ADDR: three pages of guest-physical space VMX needs below 4 GiB (Intel only, harmless elsewhere). */
    public void setTssAddr(long gpa) {
        Libc.ioctl(fd, KvmIoctls.KVM_SET_TSS_ADDR, gpa, "KVM_SET_TSS_ADDR");
    }

    /** KVM_SET_IDENTITY_MAP_ADDR: one page for VMX's real-mode identity page table. */
    public void setIdentityMapAddr(long gpa) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            p.set(JAVA_LONG, 0, gpa);
            Libc.ioctl(fd, KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR, p, "KVM_SET_IDENTITY_MAP_ADDR");
        }
    }

    /** KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and local APICs (x86). Before any vCPU. */
    public void createIrqchip() {
        Libc.ioctl(fd, KvmIoctls.KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
    }

    /** KVM_CREATE_PIT2: the in-kernel i8254 timer (ports 0x40-0x43), after the irqchip. */
    public void createPit2(int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(KvmLayouts.PIT_CONFIG);
            c.set(JAVA_INT, 0, flags);
            Libc.ioctl(fd, KvmIoctls.KVM_CREATE_PIT2, c, "KVM_CREATE_PIT2");
        }
    }

    /** KVM_IRQ_LINE: drives GSI {@code irq} to {@code level}. Allocation-free after the first call per thread. */
    public void irqLine(int irq, boolean level) {
        MemorySegment l = irqLevel.get();
        l.set(JAVA_INT, 0, irq);
        l.set(JAVA_INT, 4, level ? 1 : 0);
        if (Libc.ioctlRaw(fd, KvmIoctls.KVM_IRQ_LINE, l) < 0) {
            throw new LinuxException("KVM_IRQ_LINE(" + irq + ")", NativeCall.errno());
        }
    }

    /** KVM_IRQFD: a write to {@code eventFd} injects GSI {@code gsi}. */
    public void registerIrqfd(int eventFd, int gsi) {
        irqfd(eventFd, gsi, 0);
    }

    public void unregisterIrqfd(int eventFd, int gsi) {
        irqfd(eventFd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
    }

    private void irqfd(int eventFd, int gsi, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmLayouts.IRQFD);
            s.set(JAVA_INT, 0, eventFd);
            s.set(JAVA_INT, 4, gsi);
            s.set(JAVA_INT, 8, flags);
            Libc.ioctl(fd, KvmIoctls.KVM_IRQFD, s, "KVM_IRQFD(gsi " + gsi + ")");
        }
    }

    /**
     * KVM_IOEVENTFD: a guest write of {@code len} bytes to {@code addr} (a port if {@code pio})
     * signals {@code eventFd} inside KVM, without an exit to user space.
     *
     * @param datamatch only writes of this value trigger, or null for any value
     */
    public void registerIoeventfd(int eventFd, long addr, int len, boolean pio, Long datamatch) {
        ioeventfd(eventFd, addr, len, pio, datamatch, 0);
    }

    public void unregisterIoeventfd(int eventFd, long addr, int len, boolean pio, Long datamatch) {
        ioeventfd(eventFd, addr, len, pio, datamatch, KVM_IOEVENTFD_FLAG_DEASSIGN);
    }

    private void ioeventfd(int eventFd, long addr, int len, boolean pio, Long datamatch, int extraFlags) {
        int flags = extraFlags | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch != null ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(KvmLayouts.IOEVENTFD);
            s.set(JAVA_LONG, 0, datamatch != null ? datamatch : 0L);
            s.set(JAVA_LONG, 8, addr);
            s.set(JAVA_INT, 16, len);
            s.set(JAVA_INT, 20, eventFd);
            s.set(JAVA_INT, 24, flags);
            Libc.ioctl(fd, KvmIoctls.KVM_IOEVENTFD, s, "KVM_IOEVENTFD(0x" + Long.toHexString(addr) + ")");
        }
    }

    /** KVM_SET_GSI_ROUTING: replaces the whole GSI routing table. */
    public void setGsiRouting(List<IrqRoute> routes) {
        long entry = KvmLayouts.IRQ_ROUTING_ENTRY.byteSize();
        long head = KvmLayouts.IRQ_ROUTING.byteSize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(head + entry * routes.size(), 8);
            s.set(JAVA_INT, 0, routes.size());
            for (int i = 0; i < routes.size(); i++) {
                long o = head + entry * i;
                IrqRoute r = routes.get(i);
                s.set(JAVA_INT, o, r.gsi());
                switch (r) {
                    case IrqRoute.Irqchip c -> {
                        s.set(JAVA_INT, o + 4, IrqRoute.KVM_IRQ_ROUTING_IRQCHIP);
                        s.set(JAVA_INT, o + 16, c.chip());
                        s.set(JAVA_INT, o + 20, c.pin());
                    }
                    case IrqRoute.Msi m -> {
                        s.set(JAVA_INT, o + 4, IrqRoute.KVM_IRQ_ROUTING_MSI);
                        s.set(JAVA_INT, o + 16, (int) m.address());
                        s.set(JAVA_INT, o + 20, (int) (m.address() >>> 32));
                        s.set(JAVA_INT, o + 24, m.data());
                    }
                }
            }
            Libc.ioctl(fd, KvmIoctls.KVM_SET_GSI_ROUTING, s, "KVM_SET_GSI_ROUTING");
        }
    }

    /** KVM_CREATE_VCPU with {@code id} (the initial APIC ID on x86) and maps its kvm_run page. */
    public KvmVcpu createVcpu(int id) {
        int vcpuFd = Libc.ioctl(fd, KvmIoctls.KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU(" + id + ")");
        try {
            MemorySegment run = Libc.mmap(kvm.vcpuMmapSize(), Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpuFd, 0);
            return new KvmVcpu(id, vcpuFd, run);
        } catch (RuntimeException e) {
            Libc.closeQuietly(vcpuFd);
            throw e;
        }
    }

    @Override
    public void close() {
        Libc.closeQuietly(fd);
    }
}
