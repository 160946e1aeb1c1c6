import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.bus.BusDevice;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmRegs;
import io.qingtian.kvm.KvmSregs;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import java.lang.management.ManagementFactory;
import java.util.List;

/**
 * Port-I/O exit round trips through the hypervisor's own vCPU loop and bus, with the guest of
 * ../shared/bench-peers/kexit.c (same bytes, same address, real mode):
 * {@code mov dx,0x3f8; mov ecx,N; mov al,'A'; l: out dx,al; dec ecx; jnz l; hlt}.
 * Prints one line per repetition in kexit's format, plus the bytes the vCPU thread allocated
 * while it handled the exits (the exit path is meant to allocate nothing).
 *
 * With a third argument, the path of a built kexit, each repetition runs kexit once (N exits)
 * and ours once, back to back in alternating order, so both see the same machine load; the first Java repetition is a
 * JIT warm-up and is reported but marked warmup=1.
 *
 * Run by run.sh: java -cp cli/target/qt/qingtian-cli.jar:cli/target/qt/lib/* ExitBench.java N REPS [KEXIT]
 */
public class ExitBench {
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        byte[] code = {(byte) 0xba, (byte) 0xf8, 0x03, 0x66, (byte) 0xb9, (byte) n, (byte) (n >> 8), (byte) (n >> 16),
                (byte) (n >> 24), (byte) 0xb0, 'A', (byte) 0xee, 0x66, 0x49, 0x75, (byte) 0xfb, (byte) 0xf4};
        String kexit = args.length > 2 ? args[2] : null;
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int r = 0; r <= reps; r++) {
            // Odd repetitions run kexit first, even ones after ours: neither side always follows
            // the other (a process start, a JIT compile, a load change).
            if (kexit != null && r > 0 && r % 2 == 1) {
                runKexit(kexit, n, r);
            }
            long t0 = System.nanoTime();
            long[] count = new long[1];
            long[] sum = new long[1];
            long[] alloc = new long[2];
            BusDevice uart = new BusDevice() {
                @Override
                public long read(long offset, int size) {
                    return 0;
                }

                @Override
                public void write(long offset, int size, long value) {
                    long c = ++count[0];
                    sum[0] += value;
                    if (c == 100) {
                        alloc[0] = mx.getCurrentThreadAllocatedBytes();
                    } else if (c == n) {
                        alloc[1] = mx.getCurrentThreadAllocatedBytes();
                    }
                }
            };
            Bus pio = Bus.builder().add(0x3f8, 8, uart, "uart").build();
            Kvm kvm = Kvm.open();
            KvmVm kvmVm = kvm.createVm();
            GuestRam ram = GuestRam.allocate(0x2000);
            // kexit maps one page at 0x1000; we map RAM from 0 (GuestRam's layout), code at 0x1000.
            ram.register(kvmVm);
            ram.memory().write(0x1000, code);
            KvmVcpu vcpu = kvmVm.createVcpu(0);
            KvmSregs s = vcpu.getSregs();
            s.cs().base(0).selector(0);
            vcpu.setSregs(s);
            KvmRegs regs = vcpu.getRegs();
            regs.rip(0x1000).rflags(2);
            vcpu.setRegs(regs);
            Vm vm = new Vm(kvm, kvmVm, ram, pio, Bus.builder().build(), List.of(vcpu));
            long t1 = System.nanoTime();
            vm.start();
            VmExit exit = vm.awaitExit();
            long t2 = System.nanoTime();
            vm.close();
            boolean ok = exit.status() == ExitStatus.HALTED && count[0] == n && sum[0] == 65L * n;
            System.out.printf("JEXIT rep=%d%s N=%d io_exits=%d ok=%d setup_us=%.0f run_us=%.0f per_exit_us=%.3f alloc_bytes=%d%n",
                    r, r == 0 ? " warmup=1" : "", n, count[0], ok ? 1 : 0, (t1 - t0) / 1e3, (t2 - t1) / 1e3, (t2 - t1) / 1e3 / count[0],
                    alloc[1] - alloc[0]);
            if (kexit != null && r > 0 && r % 2 == 0) {
                runKexit(kexit, n, r);
            }
        }
    }

    private static void runKexit(String kexit, int n, int r) throws Exception {
        Process p = new ProcessBuilder(kexit, Integer.toString(n), "1").redirectErrorStream(true).start();
        String line = new String(p.getInputStream().readAllBytes()).strip().replace("rep=0", "rep=" + r);
        p.waitFor();
        System.out.println(line);
    }
}
