package io.qingtian.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.bus.BusDevice;
import io.qingtian.hypervisor.x86.BootCpu;
import io.qingtian.hypervisor.x86.BootMsrs;
import io.qingtian.hypervisor.x86.CpuidTopology;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Tiny guests on this host's /dev/kvm running through the hypervisor's vCPU loop and buses.
 * Payload bytes are hand-assembled; each is listed with its assembly.
 */
@Tag("kvm")
class VcpuPayloadTest {
    private static final Duration LIMIT = Duration.ofSeconds(60); // an outcome ends the wait; sized for a loaded CI machine

    /** mov dx,0x3f8; mov ecx,N; mov al,'A'; l: out dx,al; dec ecx; jnz l; hlt (kexit.c's guest). */
    static byte[] outLoop(int n) {
        return new byte[] {(byte) 0xba, (byte) 0xf8, 0x03, 0x66, (byte) 0xb9, (byte) n, (byte) (n >> 8),
                (byte) (n >> 16), (byte) (n >> 24), (byte) 0xb0, 'A', (byte) 0xee, 0x66, 0x49, 0x75, (byte) 0xfb,
                (byte) 0xf4};
    }

    /** A port device that reads as 0 and hands each written value to {@code action}. */
    static BusDevice onWrite(java.util.function.LongConsumer action) {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                action.accept(value);
            }
        };
    }

    static void write(Vm vm, long gpa, byte[] code) {
        try {
            vm.ram().memory().write(gpa, code);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void portIoExitsReachTheBusDeviceOnePerOut() throws Exception {
        int n = 2000;
        AtomicLong count = new AtomicLong();
        AtomicLong sum = new AtomicLong();
        BusDevice uart = new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                assertThat(offset).isZero();
                count.incrementAndGet();
                sum.addAndGet(value);
            }
        };
        Bus pio = Bus.builder().add(0x3f8, 8, uart, "uart").build();
        try (Vm vm = PayloadVm.create(0x10000, 1, false, pio, Bus.builder().build(), v -> {
            write(v, 0x1000, outLoop(n));
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        })) {
            vm.start();
            VmExit exit = vm.awaitExit(LIMIT);
            assertThat(exit).isNotNull();
            assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.HALTED);
            assertThat(count.get()).isEqualTo(n);
            assertThat(sum.get()).isEqualTo((long) 'A' * n);
        }
    }

    /**
     * The steady-state exit path (KVM_RUN, kvm_run decoding, bus dispatch) allocates nothing on
     * the vCPU thread: the thread's allocation counter is read every 10,000 exits, and once the
     * JIT has compiled the loop some window must allocate (almost) nothing. When the JIT gets
     * there depends on machine load, so every window is measured and the best one is judged;
     * one boxed value per exit would be 160 KB in every window.
     */
    @Test
    void portIoExitPathAllocatesNothingInSteadyState() throws Exception {
        int n = 200_000;
        int window = 10_000;
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long[] marks = new long[n / window + 1];
        long[] count = new long[1];
        BusDevice uart = new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0;
            }

            @Override
            public void write(long offset, int size, long value) {
                long c = ++count[0];
                if (c % window == 0) {
                    marks[(int) (c / window)] = mx.getCurrentThreadAllocatedBytes();
                }
            }
        };
        Bus pio = Bus.builder().add(0x3f8, 8, uart, "uart").build();
        try (Vm vm = PayloadVm.create(0x10000, 1, false, pio, Bus.builder().build(), v -> {
            write(v, 0x1000, outLoop(n));
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        })) {
            vm.start();
            assertThat(vm.awaitExit(Duration.ofSeconds(120)).status()).isEqualTo(ExitStatus.HALTED);
            assertThat(count[0]).isEqualTo(n);
            long best = Long.MAX_VALUE;
            for (int w = 2; w < marks.length; w++) {
                best = Math.min(best, marks[w] - marks[w - 1]);
            }
            assertThat(best).as("bytes allocated by the best window of 10,000 exits").isLessThan(8 * 1024);
        }
    }

    @Test
    void mmioReadsAndWritesAreDispatchedByAddress() throws Exception {
        // mov ax,0xd000; mov ds,ax; mov byte [0x10],0x5a; mov al,[0x20]; out 0x11,al; hlt
        byte[] code = {(byte) 0xb8, 0x00, (byte) 0xd0, (byte) 0x8e, (byte) 0xd8, (byte) 0xc6, 0x06, 0x10, 0x00, 0x5a,
                (byte) 0xa0, 0x20, 0x00, (byte) 0xe6, 0x11, (byte) 0xf4};
        RecordingDevice mmioDev = new RecordingDevice(0xa5);
        RecordingDevice other = new RecordingDevice(0x00);
        RecordingDevice port = new RecordingDevice(0);
        Bus mmio = Bus.builder().add(0xd0000, 0x100, mmioDev, "dev").add(0xd0100, 0x100, other, "other").build();
        Bus pio = Bus.builder().add(0x11, 1, port, "verdict").build();
        try (Vm vm = PayloadVm.create(0x10000, 1, false, pio, mmio, v -> {
            write(v, 0x1000, code);
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        })) {
            vm.start();
            assertThat(vm.awaitExit(LIMIT).status()).isEqualTo(ExitStatus.HALTED);
            assertThat(mmioDev.accesses).containsExactly(
                    new RecordingDevice.Access(true, 0x10, 1, 0x5a), new RecordingDevice.Access(false, 0x20, 1, 0xa5));
            assertThat(other.accesses).isEmpty();
            assertThat(port.writes()).containsExactly(new RecordingDevice.Access(true, 0, 1, 0xa5));
        }
    }

    @Test
    void stringPortOutputDeliversEveryItem() throws Exception {
        // mov si,0x2000; mov cx,4; mov dx,0x12; rep outsb; hlt
        byte[] code = {(byte) 0xbe, 0x00, 0x20, (byte) 0xb9, 0x04, 0x00, (byte) 0xba, 0x12, 0x00, (byte) 0xf3,
                0x6e, (byte) 0xf4};
        RecordingDevice port = new RecordingDevice(0);
        Bus pio = Bus.builder().add(0x12, 1, port, "sink").build();
        try (Vm vm = PayloadVm.create(0x10000, 1, false, pio, Bus.builder().build(), v -> {
            write(v, 0x1000, code);
            write(v, 0x2000, new byte[] {'q', 't', '!', '\n'});
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        })) {
            vm.start();
            assertThat(vm.awaitExit(LIMIT).status()).isEqualTo(ExitStatus.HALTED);
            assertThat(port.writes().stream().mapToLong(RecordingDevice.Access::value).toArray())
                    .containsExactly('q', 't', '!', '\n');
        }
    }

    @Test
    void twoVcpusRunAtTheSameTime() throws Exception {
        // vCPU i: mov byte [0x3000+i],1; l: cmp byte [0x3000+(1-i)],1; jne l; mov al,i; out 0x10,al; hlt
        // Each waits for the other's flag, so both must be running concurrently to finish.
        RecordingDevice port = new RecordingDevice(0);
        Bus pio = Bus.builder().add(0x10, 1, port, "done").build();
        try (Vm vm = PayloadVm.create(0x10000, 2, false, pio, Bus.builder().build(), v -> {
            for (int i = 0; i < 2; i++) {
                byte[] code = {(byte) 0xc6, 0x06, (byte) i, 0x30, 0x01, (byte) 0x80, 0x3e, (byte) (1 - i), 0x30, 0x01,
                        0x75, (byte) 0xf9, (byte) 0xb0, (byte) i, (byte) 0xe6, 0x10, (byte) 0xf4};
                write(v, 0x1000 + 0x100L * i, code);
                PayloadVm.realMode(v.vcpus().get(i), 0x1000 + 0x100L * i);
            }
        })) {
            vm.start();
            VmExit exit = vm.awaitExit(LIMIT);
            assertThat(exit).as("both vCPUs finished").isNotNull();
            assertThat(exit.status()).isEqualTo(ExitStatus.HALTED);
            assertThat(port.writes().stream().mapToLong(RecordingDevice.Access::value).sorted().toArray())
                    .containsExactly(0, 1);
        }
    }

    @Test
    void stopKicksSpinningVcpusOutOfKvmRun() throws Exception {
        byte[] spin = {(byte) 0xeb, (byte) 0xfe}; // jmp $
        try (Vm vm = PayloadVm.create(0x10000, 2, false, Bus.builder().build(), Bus.builder().build(), v -> {
            write(v, 0x1000, spin);
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
            PayloadVm.realMode(v.vcpus().get(1), 0x1000);
        })) {
            vm.start();
            assertThat(vm.awaitExit(Duration.ofMillis(300))).as("still spinning").isNull();
            vm.stop(new VmExit(ExitStatus.STOPPED, -1, "test"));
            assertThat(vm.awaitExit(LIMIT).status()).isEqualTo(ExitStatus.STOPPED);
            // Joins the vCPU threads: they end only if the kick got them out of KVM_RUN (the
            // bound is generous: a loaded machine must not fail this; a lost kick still does).
            assertThat(vm.close(Duration.ofSeconds(60))).as("closed with every vCPU thread ended").isTrue();
            assertThat(vm.liveVcpuThreadCount()).isZero();
        }
    }

    @Test
    void closeReturnsWhileAVcpuIsStuckInADeviceAndReleasesNothingUnderIt() throws Exception {
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean returned = new java.util.concurrent.atomic.AtomicBoolean();
        BusDevice hung = onWrite(value -> {
            // A device waiting for a peer that does not answer (a card that hangs).
            entered.countDown();
            try {
                release.await(120, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            returned.set(true);
        });
        Bus pio = Bus.builder().add(0x3f8, 8, hung, "hung").build();
        Vm vm = PayloadVm.create(0x10000, 1, false, pio, Bus.builder().build(), v -> {
            write(v, 0x1000, outLoop(1));
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        });
        try {
            vm.start();
            assertThat(entered.await(60, java.util.concurrent.TimeUnit.SECONDS)).as("the vCPU reached the device").isTrue();
            assertThat(vm.close(Duration.ofMillis(200))).as("close gives up on the stuck vCPU").isFalse();
            // Order, not time: close came back while the device still held the vCPU thread.
            assertThat(returned).isFalse();
            assertThat(vm.liveVcpuThreadCount()).isEqualTo(1);
            assertThat(vm.ram().memory().readU32(0x1000)).as("guest memory still mapped").isNotZero();
        } finally {
            release.countDown();
        }
        // Once the device returns, the vCPU leaves and a second close releases everything.
        assertThat(vm.close(Duration.ofSeconds(60))).isTrue();
        assertThat(returned).isTrue();
        assertThat(vm.liveVcpuThreadCount()).isZero();
    }

    /**
     * The 64-bit Linux entry state: after BootCpu and the full per-vCPU setup (CPUID, MSRs,
     * FPU, LINT), a 64-bit payload reports CR0, CR4, EFER, CS, RSI, CR3 on ports 0x10-0x15
     * and the APIC ID from CPUID.1 on port 0x16, then writes 0x600 to stop.
     */
    @Test
    void longModeEntryStateIsWhatTheBootProtocolRequires() throws Exception {
        byte[] code = {
                0x0f, 0x20, (byte) 0xc0, (byte) 0xe7, 0x10,                   // mov rax,cr0; out 0x10,eax
                0x0f, 0x20, (byte) 0xe0, (byte) 0xe7, 0x11,                   // mov rax,cr4; out 0x11,eax
                (byte) 0xb9, (byte) 0x80, 0x00, 0x00, (byte) 0xc0, 0x0f, 0x32, // mov ecx,0xc0000080; rdmsr
                (byte) 0xe7, 0x12,                                            // out 0x12,eax
                (byte) 0x8c, (byte) 0xc8, (byte) 0xe7, 0x13,                  // mov eax,cs; out 0x13,eax
                0x48, (byte) 0x89, (byte) 0xf0, (byte) 0xe7, 0x14,            // mov rax,rsi; out 0x14,eax
                0x0f, 0x20, (byte) 0xd8, (byte) 0xe7, 0x15,                   // mov rax,cr3; out 0x15,eax
                (byte) 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, (byte) 0xa2,       // mov eax,1; cpuid
                (byte) 0x89, (byte) 0xd8, (byte) 0xe7, 0x16,                  // mov eax,ebx; out 0x16,eax
                (byte) 0xc7, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0x78, 0x56, 0x34, 0x12, // mov dword [0x300000],0x12345678
                (byte) 0x8b, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, (byte) 0xe7, 0x17, // mov eax,[0x300000]; out 0x17,eax
                0x66, (byte) 0xba, 0x00, 0x06, (byte) 0xee,                   // mov dx,0x600; out dx,al
                (byte) 0xeb, (byte) 0xfe};                                    // jmp $
        long entry = 0x200000;
        RecordingDevice regs = new RecordingDevice(0);
        AtomicLong stopped = new AtomicLong();
        Vm[] self = new Vm[1];
        BusDevice stop = onWrite(value -> {
            stopped.incrementAndGet();
            self[0].stop(new VmExit(ExitStatus.POWEROFF, 0, "payload done"));
        });
        // 32-bit OUTs at 0x10-0x17: the range must hold all four bytes of the last one.
        Bus pio = Bus.builder().add(0x10, 0x10, regs, "regs").add(0x600, 1, stop, "stop").build();
        try (Vm vm = PayloadVm.create(8 << 20, 1, true, pio, Bus.builder().build(), v -> {
            write(v, entry, code);
            KvmVcpu cpu = v.vcpus().get(0);
            try {
                BootCpu.writeTables(v.ram().memory(), BootCpu.longModeGdt());
            } catch (GuestMemoryException e) {
                throw new AssertionError(e);
            }
            cpu.setCpuid2(CpuidTopology.forVcpu(v.kvmVm().kvm().supportedCpuid(), 0, 1));
            cpu.setMsrs(BootMsrs.entries());
            BootCpu.setupFpu(cpu);
            BootCpu.setupLint(cpu);
            BootCpu.enterLongMode(cpu, entry, 0x7000);
            assertThat(cpu.getSregs().cr3()).isEqualTo(0x9000);
        })) {
            self[0] = vm;
            vm.start();
            VmExit exit = vm.awaitExit(LIMIT);
            assertThat(exit).isNotNull();
            assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.POWEROFF);
            long[] v = new long[8];
            for (RecordingDevice.Access a : regs.writes()) {
                v[(int) a.offset()] = a.value();
            }
            assertThat(v[0] & 0x8000_0001L).as("CR0.PG|PE").isEqualTo(0x8000_0001L);
            assertThat(v[1] & 0x20).as("CR4.PAE").isEqualTo(0x20);
            assertThat(v[2] & 0x500).as("EFER.LME|LMA").isEqualTo(0x500);
            assertThat(v[3]).as("CS = __BOOT_CS").isEqualTo(0x08);
            assertThat(v[4]).as("RSI = boot_params").isEqualTo(0x7000);
            assertThat(v[5]).as("CR3 = PML4").isEqualTo(0x9000);
            assertThat(v[6] >>> 24).as("APIC ID").isZero();
            assertThat(v[7]).as("identity-mapped store at 3 MiB").isEqualTo(0x12345678L);
            assertThat(stopped.get()).isEqualTo(1);
        }
    }

    /** PVH entry state: 32-bit protected mode, paging off, EBX = start info. */
    @Test
    void pvhEntryStateIsFlat32BitProtectedMode() throws Exception {
        byte[] code = {
                0x0f, 0x20, (byte) 0xc0, (byte) 0xe7, 0x10,       // mov eax,cr0; out 0x10,eax
                (byte) 0x8c, (byte) 0xc8, (byte) 0xe7, 0x13,      // mov eax,cs; out 0x13,eax
                (byte) 0x89, (byte) 0xd8, (byte) 0xe7, 0x14,      // mov eax,ebx; out 0x14,eax
                (byte) 0xf4};                                     // hlt
        RecordingDevice regs = new RecordingDevice(0);
        Bus pio = Bus.builder().add(0x10, 0x10, regs, "regs").build();
        try (Vm vm = PayloadVm.create(4 << 20, 1, false, pio, Bus.builder().build(), v -> {
            write(v, 0x100000, code);
            try {
                BootCpu.writeTables(v.ram().memory(), BootCpu.protectedModeGdt());
            } catch (GuestMemoryException e) {
                throw new AssertionError(e);
            }
            BootCpu.enterProtectedMode(v.vcpus().get(0), 0x100000, 0x6000);
        })) {
            vm.start();
            VmExit exit = vm.awaitExit(LIMIT);
            assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.HALTED);
            long[] v = new long[8];
            for (RecordingDevice.Access a : regs.writes()) {
                v[(int) a.offset()] = a.value();
            }
            assertThat(v[0] & 0x8000_0001L).as("CR0: PE without PG").isEqualTo(1);
            assertThat(v[3]).isEqualTo(0x08);
            assertThat(v[4]).isEqualTo(0x6000);
        }
    }
}
