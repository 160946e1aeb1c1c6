package io.qingtian.kvm;

import static io.qingtian.kvm.Ioctl.io;
import static io.qingtian.kvm.Ioctl.ior;
import static io.qingtian.kvm.Ioctl.iow;
import static io.qingtian.kvm.Ioctl.iowr;
import static io.qingtian.kvm.KvmIoctls.KVMIO;

import io.qingtian.sys.Errno;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.NativeCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The KVM ioctls that save and restore VM and vCPU state for snapshots (api.rst 4.x). Each
 * struct travels as an opaque byte blob of its exact kernel size: the snapshot stores what KVM
 * gave and hands it back unchanged, so no field-by-field model is needed (Firecracker's
 * vstate does the same with the kvm-bindings structs).
 *
 * <p>Sizes are those of {@code <linux/kvm.h>} on x86_64; the request numbers encode them, so a
 * wrong size is a wrong request number (the kernel answers ENOTTY), never a silent overrun.
 */
public final class KvmStateIoctls {
    /** struct kvm_xsave: 4096 bytes of XSAVE area (api.rst 4.42). */
    public static final int XSAVE_SIZE = 4096;
    /** struct kvm_xcrs: flags, nr_xcrs, 16 x {xcr, reserved, value}, padding[16]. */
    public static final int XCRS_SIZE = 8 + 16 * 16 + 16 * 8;
    /** struct kvm_lapic_state: the 1 KiB APIC register page. */
    public static final int LAPIC_SIZE = 1024;
    /** struct kvm_vcpu_events (api.rst 4.31). */
    public static final int VCPU_EVENTS_SIZE = 64;
    /** struct kvm_debugregs: db[4], dr6, dr7, flags, reserved[9]. */
    public static final int DEBUGREGS_SIZE = 128;
    /** struct kvm_irqchip: chip_id, pad, 512-byte union (PIC or IOAPIC state). */
    public static final int IRQCHIP_SIZE = 8 + 512;
    /** struct kvm_pit_state2: 3 channels of 24 bytes, flags, reserved[9]. */
    public static final int PIT2_SIZE = 3 * 24 + 4 + 9 * 4;
    /** struct kvm_clock_data: clock, flags, pad0, realtime, host_tsc, pad[4]. */
    public static final int CLOCK_SIZE = 48;
    /** struct kvm_fpu and struct kvm_regs/kvm_sregs, from the existing layouts. */
    public static final int FPU_SIZE = (int) KvmLayouts.FPU.byteSize();
    public static final int REGS_SIZE = (int) KvmLayouts.REGS.byteSize();
    public static final int SREGS_SIZE = (int) KvmLayouts.SREGS.byteSize();

    /** KVM_IRQCHIP_* chip ids. */
    public static final int IRQCHIP_PIC_MASTER = 0;
    public static final int IRQCHIP_PIC_SLAVE = 1;
    public static final int IRQCHIP_IOAPIC = 2;

    /** KVM_CLOCK_TSC_STABLE: set by GET_CLOCK; SET_CLOCK must not get it back (it only accepts KVM_CLOCK_REALTIME). */
    public static final int KVM_CLOCK_TSC_STABLE = 2;

    public static final long KVM_GET_IRQCHIP = iowr(KVMIO, 0x62, IRQCHIP_SIZE);
    /** Historically declared _IOR although the kernel reads the struct. */
    public static final long KVM_SET_IRQCHIP = ior(KVMIO, 0x63, IRQCHIP_SIZE);
    public static final long KVM_SET_CLOCK = iow(KVMIO, 0x7b, CLOCK_SIZE);
    public static final long KVM_GET_CLOCK = ior(KVMIO, 0x7c, CLOCK_SIZE);
    public static final long KVM_GET_PIT2 = ior(KVMIO, 0x9f, PIT2_SIZE);
    public static final long KVM_SET_PIT2 = iow(KVMIO, 0xa0, PIT2_SIZE);
    public static final long KVM_GET_VCPU_EVENTS = ior(KVMIO, 0x9f, VCPU_EVENTS_SIZE);
    public static final long KVM_SET_VCPU_EVENTS = iow(KVMIO, 0xa0, VCPU_EVENTS_SIZE);
    public static final long KVM_GET_DEBUGREGS = ior(KVMIO, 0xa1, DEBUGREGS_SIZE);
    public static final long KVM_SET_DEBUGREGS = iow(KVMIO, 0xa2, DEBUGREGS_SIZE);
    public static final long KVM_SET_TSC_KHZ = io(KVMIO, 0xa2);
    public static final long KVM_GET_XSAVE = ior(KVMIO, 0xa4, XSAVE_SIZE);
    public static final long KVM_SET_XSAVE = iow(KVMIO, 0xa5, XSAVE_SIZE);
    public static final long KVM_GET_XCRS = ior(KVMIO, 0xa6, XCRS_SIZE);
    public static final long KVM_SET_XCRS = iow(KVMIO, 0xa7, XCRS_SIZE);
    public static final long KVM_KVMCLOCK_CTRL = io(KVMIO, 0xad);

    private static final int ENOTTY = 25;

    private KvmStateIoctls() {}

    /** Runs a GET ioctl on {@code fd} into a fresh buffer of {@code size} bytes and returns it. */
    public static byte[] get(int fd, long request, int size, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(size, 8);
            Libc.ioctl(fd, request, s, name);
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Runs a SET ioctl on {@code fd} with {@code blob} (which must be exactly {@code size} bytes). */
    public static void set(int fd, long request, int size, byte[] blob, String name) {
        if (blob.length != size) {
            throw new IllegalArgumentException(name + ": state is " + blob.length + " bytes, KVM expects " + size);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(size, 8);
            MemorySegment.copy(blob, 0, s, ValueLayout.JAVA_BYTE, 0, size);
            Libc.ioctl(fd, request, s, name);
        }
    }

    /** KVM_GET_IRQCHIP for one chip (PIC master/slave or IOAPIC); the blob includes the chip id. */
    public static byte[] getIrqchip(KvmVm vm, int chip) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(IRQCHIP_SIZE, 8);
            s.set(ValueLayout.JAVA_INT, 0, chip);
            Libc.ioctl(vm.fd(), KVM_GET_IRQCHIP, s, "KVM_GET_IRQCHIP(" + chip + ")");
            return s.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    public static void setIrqchip(KvmVm vm, byte[] blob) {
        set(vm.fd(), KVM_SET_IRQCHIP, IRQCHIP_SIZE, blob, "KVM_SET_IRQCHIP");
    }

    /**
     * KVM_GET_CLOCK, with the flags cleared for SET_CLOCK: the guest's kvmclock continues from
     * the saved value (Firecracker restores it the same way; time in the guest does not jump by
     * the time the snapshot sat on disk).
     */
    public static byte[] getClock(KvmVm vm) {
        byte[] b = get(vm.fd(), KVM_GET_CLOCK, CLOCK_SIZE, "KVM_GET_CLOCK");
        for (int i = 8; i < 12; i++) {
            b[i] = 0;
        }
        return b;
    }

    public static void setClock(KvmVm vm, byte[] blob) {
        set(vm.fd(), KVM_SET_CLOCK, CLOCK_SIZE, blob, "KVM_SET_CLOCK");
    }

    /**
     * KVM_KVMCLOCK_CTRL: tells the guest's kvmclock it was paused, so its soft-lockup watchdog
     * does not fire after a long pause. EINVAL when the guest has not enabled kvmclock (a tiny
     * payload, an early boot): that is not an error. Returns whether KVM accepted it.
     */
    public static boolean kvmclockCtrl(KvmVcpu vcpu) {
        int r = Libc.ioctlRaw(vcpu.fd(), KVM_KVMCLOCK_CTRL, MemorySegment.NULL);
        if (r < 0) {
            int errno = NativeCall.errno();
            if (errno == Errno.EINVAL || errno == ENOTTY) {
                return false;
            }
            throw new LinuxException("KVM_KVMCLOCK_CTRL", errno);
        }
        return true;
    }

    /** KVM_SET_TSC_KHZ: the guest's TSC frequency (needs KVM_CAP_TSC_CONTROL when it differs from the host's). */
    public static void setTscKhz(KvmVcpu vcpu, int khz) {
        Libc.ioctl(vcpu.fd(), KVM_SET_TSC_KHZ, khz, "KVM_SET_TSC_KHZ");
    }
}
