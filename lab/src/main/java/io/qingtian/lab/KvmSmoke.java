package io.qingtian.lab;

import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmExit;
import io.qingtian.kvm.KvmRegs;
import io.qingtian.kvm.KvmRun;
import io.qingtian.kvm.KvmSregs;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.Errno;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.NativeCall;
import io.qingtian.sys.UserError;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code qt lab kvm-smoke}: the smallest real KVM program, through the project's own KVM bindings
 * ({@code io.qingtian.kvm} in the native module). It proves a /dev/kvm can run a guest: one vCPU
 * in real mode runs
 * <pre>
 *   mov dx, 0x3f8 ; mov ecx, N ; mov al, 'A'
 * l: out dx, al  ; dec ecx ; jnz l
 *   hlt
 * </pre>
 * and the program counts the port-I/O exits (each must be OUT, 1 byte, port 0x3f8, 'A') until
 * KVM_EXIT_HLT, then reports the mean time per exit (the same guest bytes as
 * shared/bench-peers/kexit.c, the C baseline).
 */
@Command(name = "kvm-smoke", mixinStandardHelpOptions = true,
        description = "Runs a tiny real-mode guest to HLT on /dev/kvm and reports port-I/O exits.")
public final class KvmSmoke implements Callable<Integer> {
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
        MemorySegment mem = null;
        try (Kvm kvm = Kvm.open(device.toString()); KvmVm vm = kvm.createVm()) {
            mem = Libc.mmap(0x10000, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_ANONYMOUS, -1, 0);
            byte[] code = payload(n);
            MemorySegment.copy(code, 0, mem, ValueLayout.JAVA_BYTE, CODE_GPA, code.length);
            vm.setUserMemoryRegion(0, 0, 0, mem);
            try (KvmVcpu vcpu = vm.createVcpu(0)) {
                KvmSregs sregs = vcpu.getSregs();
                sregs.cs().base(0).selector(0); // real mode, CS base 0: the payload runs at CODE_GPA
                vcpu.setSregs(sregs);
                KvmRegs regs = vcpu.getRegs();
                regs.rip(CODE_GPA).rflags(2);
                vcpu.setRegs(regs);
                KvmRun run = vcpu.kvmRun();
                long ioExits = 0;
                long t0 = System.nanoTime();
                while (true) {
                    if (vcpu.run() < 0) {
                        int errno = NativeCall.errno();
                        if (errno == Errno.EINTR || errno == Errno.EAGAIN) {
                            continue;
                        }
                        throw new LinuxException("KVM_RUN", errno);
                    }
                    int reason = run.exitReason();
                    if (reason == KvmExit.IO) {
                        if (run.ioDirection() != KvmExit.IO_OUT || run.ioSize() != 1 || run.ioPort() != PORT
                                || run.ioData(0, 1) != 'A') {
                            throw new IllegalStateException("unexpected port I/O: " + run.describe());
                        }
                        ioExits++;
                    } else if (reason == KvmExit.HLT) {
                        double micros = (System.nanoTime() - t0) / 1000.0 / Math.max(1, ioExits);
                        return new Result(ioExits, true, micros, kvmFlavour());
                    } else {
                        throw new IllegalStateException("unexpected KVM exit after " + ioExits + " port-I/O exits: " + run.describe());
                    }
                }
            }
        } finally {
            if (mem != null) {
                Libc.munmap(mem);
            }
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
