package io.qingtian.lab;

import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.NativeCall;
import io.qingtian.sys.UserError;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code qt lab kvm-smoke}: the smallest real KVM program, through the project's own native layer
 * ({@link Libc#ioctl}) with the raw KVM ioctl numbers (include/uapi/linux/kvm.h; Documentation/
 * virt/kvm/api.rst). It proves a /dev/kvm can run a guest: one vCPU in real mode runs
 * <pre>
 *   mov dx, 0x3f8 ; mov ecx, N ; mov al, 'A'
 * l: out dx, al  ; dec ecx ; jnz l
 *   hlt
 * </pre>
 * and the program counts the port-I/O exits (each must be OUT, 1 byte, port 0x3f8, 'A') until
 * KVM_EXIT_HLT, then reports the mean time per exit. It is a lab probe, deliberately separate
 * from the hypervisor's KVM bindings.
 */
@Command(name = "kvm-smoke", mixinStandardHelpOptions = true,
        description = "Runs a tiny real-mode guest to HLT on /dev/kvm and reports port-I/O exits.")
public final class KvmSmoke implements Callable<Integer> {
    // _IO/_IOR/_IOW(KVMIO=0xAE, nr, size): dir<<30 | size<<16 | 0xAE<<8 | nr
    static final long KVM_GET_API_VERSION = 0xAE00;
    static final long KVM_CREATE_VM = 0xAE01;
    static final long KVM_GET_VCPU_MMAP_SIZE = 0xAE04;
    static final long KVM_CREATE_VCPU = 0xAE41;
    static final long KVM_SET_USER_MEMORY_REGION = 0x4020AE46L; // _IOW(0x46, struct kvm_userspace_memory_region = 32)
    static final long KVM_RUN = 0xAE80;
    static final long KVM_SET_REGS = 0x4090AE82L;  // _IOW(0x82, struct kvm_regs = 144)
    static final long KVM_GET_SREGS = 0x8138AE83L; // _IOR(0x83, struct kvm_sregs = 312)
    static final long KVM_SET_SREGS = 0x4138AE84L; // _IOW(0x84, struct kvm_sregs = 312)
    static final int KVM_EXIT_IO = 2;
    static final int KVM_EXIT_HLT = 5;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final long CODE_GPA = 0x1000;
    static final int PORT = 0x3f8;

    @Option(names = "--exits", description = "port-I/O exits the guest makes before HLT (default ${DEFAULT-VALUE})", defaultValue = "10000")
    int exits;

    @Option(names = "--reps", description = "repetitions, each a fresh VM (default ${DEFAULT-VALUE}); later ones run JIT-compiled", defaultValue = "1")
    int reps;

    @Option(names = "--device", description = "KVM device (default ${DEFAULT-VALUE})", defaultValue = "/dev/kvm")
    String device;

    /** The outcome of one smoke run. */
    public record Result(long ioExits, boolean halted, double microsPerExit, String kvm) {}

    @Override
    public Integer call() {
        boolean ok = true;
        for (int i = 0; i < Math.max(1, reps); i++) {
            Result r = run(Path.of(device), exits);
            System.out.printf("kvm-smoke: %s after %d port-I/O exits on %s, %.2f us per exit%n",
                    r.halted() ? "HLT" : "NO HLT", r.ioExits(), r.kvm(), r.microsPerExit());
            ok &= r.halted() && r.ioExits() == exits;
        }
        return ok ? 0 : 1;
    }

    /** Runs the payload with {@code n} exits on {@code device}. */
    public static Result run(Path device, int n) {
        if (n < 1) {
            throw new UserError("kvm-smoke: --exits must be at least 1");
        }
        if (!Files.exists(device)) {
            throw new UserError("kvm-smoke: " + device + " does not exist (no KVM here; inside the lab it is kvm-amd)");
        }
        int kvm = Libc.open(device.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        int vm = -1;
        int vcpu = -1;
        MemorySegment mem = null;
        MemorySegment run = null;
        try (Arena arena = Arena.ofConfined()) {
            int api = Libc.ioctl(kvm, KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
            if (api != 12) {
                throw new UserError("kvm-smoke: KVM API version " + api + ", expected 12");
            }
            vm = Libc.ioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
            long memSize = 0x10000;
            mem = Libc.mmap(memSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
            byte[] code = payload(n);
            MemorySegment.copy(code, 0, mem, ValueLayout.JAVA_BYTE, CODE_GPA, code.length);

            MemorySegment region = arena.allocate(32, 8);
            region.set(ValueLayout.JAVA_INT, 0, 0);        // slot
            region.set(ValueLayout.JAVA_INT, 4, 0);        // flags
            region.set(ValueLayout.JAVA_LONG, 8, 0);       // guest_phys_addr
            region.set(ValueLayout.JAVA_LONG, 16, memSize); // memory_size
            region.set(ValueLayout.JAVA_LONG, 24, mem.address()); // userspace_addr
            Libc.ioctl(vm, KVM_SET_USER_MEMORY_REGION, region, "KVM_SET_USER_MEMORY_REGION");

            vcpu = Libc.ioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
            int runSize = Libc.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
            run = Libc.mmap(runSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpu, 0);

            // Real mode with CS base 0 (struct kvm_sregs starts with cs: base u64, limit u32, selector u16).
            MemorySegment sregs = arena.allocate(312, 8);
            Libc.ioctl(vcpu, KVM_GET_SREGS, sregs, "KVM_GET_SREGS");
            sregs.set(ValueLayout.JAVA_LONG, 0, 0);
            sregs.set(ValueLayout.JAVA_SHORT, 12, (short) 0);
            Libc.ioctl(vcpu, KVM_SET_SREGS, sregs, "KVM_SET_SREGS");
            MemorySegment regs = arena.allocate(144, 8); // rax..r15 (16 x u64), rip @128, rflags @136
            regs.set(ValueLayout.JAVA_LONG, 128, CODE_GPA);
            regs.set(ValueLayout.JAVA_LONG, 136, 2);
            Libc.ioctl(vcpu, KVM_SET_REGS, regs, "KVM_SET_REGS");

            long ioExits = 0;
            boolean halted = false;
            long t0 = System.nanoTime();
            while (true) {
                int rc = Libc.ioctlRaw(vcpu, KVM_RUN, MemorySegment.NULL);
                if (rc < 0) {
                    int errno = NativeCall.errno();
                    if (errno == EINTR || errno == EAGAIN) {
                        continue;
                    }
                    throw new LinuxException("KVM_RUN", errno);
                }
                int reason = run.get(ValueLayout.JAVA_INT, 8);
                if (reason == KVM_EXIT_IO) {
                    // struct kvm_run.io at offset 32: direction u8, size u8, port u16, count u32, data_offset u64
                    int dir = run.get(ValueLayout.JAVA_BYTE, 32);
                    int size = run.get(ValueLayout.JAVA_BYTE, 33);
                    int port = Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT, 34));
                    long dataOffset = run.get(ValueLayout.JAVA_LONG, 40);
                    byte data = run.get(ValueLayout.JAVA_BYTE, dataOffset);
                    if (dir != 1 || size != 1 || port != PORT || data != 'A') {
                        throw new IllegalStateException("unexpected port I/O: dir=" + dir + " size=" + size
                                + " port=0x" + Integer.toHexString(port) + " data=" + data);
                    }
                    ioExits++;
                } else if (reason == KVM_EXIT_HLT) {
                    halted = true;
                    break;
                } else {
                    throw new IllegalStateException("unexpected KVM exit reason " + reason + " after " + ioExits + " port-I/O exits");
                }
            }
            double micros = (System.nanoTime() - t0) / 1000.0 / Math.max(1, ioExits);
            return new Result(ioExits, halted, micros, kvmFlavour());
        } finally {
            if (run != null) {
                Libc.munmap(run);
            }
            if (mem != null) {
                Libc.munmap(mem);
            }
            Libc.closeQuietly(vcpu);
            Libc.closeQuietly(vm);
            Libc.closeQuietly(kvm);
        }
    }

    /** The real-mode payload at CODE_GPA. */
    static byte[] payload(int n) {
        return new byte[] {
            (byte) 0xBA, (byte) 0xF8, 0x03,                                   // mov dx, 0x3f8
            0x66, (byte) 0xB9, (byte) n, (byte) (n >>> 8), (byte) (n >>> 16), (byte) (n >>> 24), // mov ecx, n
            (byte) 0xB0, 'A',                                                   // mov al, 'A'
            (byte) 0xEE,                                                        // l: out dx, al
            0x66, 0x49,                                                         // dec ecx
            0x75, (byte) 0xFB,                                                  // jnz l (-5)
            (byte) 0xF4                                                         // hlt
        };
    }

    static String kvmFlavour() {
        for (String m : new String[] {"kvm_amd", "kvm_intel", "kvm_pvm"}) {
            if (Files.isDirectory(Path.of("/sys/module", m))) {
                return m.replace('_', '-');
            }
        }
        return "kvm";
    }
}
