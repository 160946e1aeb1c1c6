package io.qingtian.hypervisor.vcpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.bus.BusDevice;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.x86.BootCpu;
import io.qingtian.hypervisor.x86.BootMsrs;
import io.qingtian.hypervisor.x86.CpuidTopology;
import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A long-mode payload that does port I/O and then triple-faults, run by a {@link VcpuRunner} on /dev/kvm. */
@Tag("kvm")
class CrashReportKvmTest {
    static final long ENTRY = 0x100000;
    static final int OUTS = 40;

    /**
     * OUTS times {@code mov al,i; out 0x80,al} (more exits than the ring keeps), {@code in al,0x81},
     * then {@code mov rax,[0x100000000]}: outside the boot identity map, so #PF, and the 8-byte boot
     * IDT holds no gate for it, nor for the #GP and #DF that follow: a triple fault.
     */
    static byte[] payload() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int i = 1; i <= OUTS; i++) {
            b.writeBytes(new byte[] {(byte) 0xb0, (byte) i, (byte) 0xe6, (byte) 0x80});
        }
        b.writeBytes(new byte[] {(byte) 0xe4, (byte) 0x81});
        b.writeBytes(new byte[] {0x48, (byte) 0xa1, 0, 0, 0, 0, 1, 0, 0, 0, (byte) 0xeb, (byte) 0xfe});
        return b.toByteArray();
    }

    @Test
    void tripleFaultPrintsStateEventsAndTheLastExitsWithTheirRips() throws Exception {
        BusDevice port = new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0x5a;
            }

            @Override
            public void write(long offset, int size, long value) {}
        };
        Bus pio = Bus.builder().add(0x80, 2, port, "port 80").build();
        AtomicReference<VmExit> exit = new AtomicReference<>();
        AtomicReference<String> report = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        VcpuRunner.VcpuHost host = new VcpuRunner.VcpuHost() {
            @Override
            public boolean stopping() {
                return exit.get() != null;
            }

            @Override
            public void requestStop(VmExit e) {
                exit.compareAndSet(null, e);
                done.countDown();
            }

            @Override
            public void halted(int vcpu) {
                requestStop(new VmExit(ExitStatus.HALTED, vcpu, "halted"));
            }
        };
        try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVm(); GuestRam ram = GuestRam.allocate(4 << 20)) {
            vm.createIrqchip();
            ram.register(vm);
            ram.memory().write(ENTRY, payload());
            BootCpu.writeTables(ram.memory(), BootCpu.longModeGdt());
            try (KvmVcpu cpu = vm.createVcpu(0)) {
                cpu.setCpuid2(CpuidTopology.forVcpu(kvm.supportedCpuid(), 0, 1));
                cpu.setMsrs(BootMsrs.entries());
                BootCpu.setupFpu(cpu);
                BootCpu.enterLongMode(cpu, ENTRY, 0x7000);
                VcpuRunner runner = new VcpuRunner(cpu, pio, Bus.builder().build(), host, report::set);
                Thread t = Thread.ofPlatform().name("vcpu-test").start(runner);
                assertThat(done.await(20, TimeUnit.SECONDS)).as("the payload ended").isTrue();
                t.join(5000);
                assertThat(exit.get().status()).as(exit.get().detail()).isEqualTo(ExitStatus.CRASH);

                String r = report.get();
                assertThat(r).as("crash report").isNotNull();
                assertThat(r.lines()).allMatch(l -> l.startsWith("qt: "));
                assertThat(r).contains("crash report: vCPU 0, KVM_EXIT_SHUTDOWN (guest triple fault)")
                        .contains("rip ").contains("cr0 ").contains("idt ").contains("events: exception ")
                        .contains("last 32 exits, oldest first:");
                assertThat(r.lines().count()).as("one screen").isLessThanOrEqualTo(50);

                List<ExitRing.Entry> last = runner.exitRing().entries();
                assertThat(last).hasSize(32);
                ExitRing.Entry shutdown = last.get(31);
                ExitRing.Entry in = last.get(30);
                ExitRing.Entry out = last.get(29);
                assertThat(shutdown.describe()).contains("SHUTDOWN");
                assertThat(in.describe()).startsWith("#" + in.seq() + " IO in 0x81 size 1 -> 0x5a rip " + Long.toHexString(ENTRY + 4L * OUTS));
                // An OUT's RIP is the instruction's, or the next one's when KVM emulated the OUT
                // and advanced RIP before exiting (PVM does; SVM/VMX fast port I/O does not).
                long outInsn = ENTRY + 4L * (OUTS - 1) + 2;
                assertThat(out.describe()).startsWith("#" + out.seq() + " IO out 0x80 size 1 = 0x" + Integer.toHexString(OUTS) + " rip ");
                assertThat(out.rip()).isIn(outInsn, outInsn + 2);
                assertThat(r).contains(in.describe()).contains(out.describe());
            }
        }
    }
}
