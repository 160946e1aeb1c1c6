package io.qingtian.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.Libc;
import io.qingtian.sys.NativeCall;
import io.qingtian.sys.UserError;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Tiny real-mode guests on this host's /dev/kvm, driven through the bindings only. */
@Tag("kvm")
class RealModePayloadTest {
    private static final long LOAD = 0x1000;

    /**
     * {@code mov dx,0x3f8; mov ecx,N; mov al,'A'; l: out dx,al; dec ecx; jnz l; hlt}, the
     * guest of ../shared/bench-peers/kexit.c.
     */
    static byte[] outLoop(int n) {
        return new byte[] {(byte) 0xba, (byte) 0xf8, 0x03, 0x66, (byte) 0xb9, (byte) n, (byte) (n >> 8),
                (byte) (n >> 16), (byte) (n >> 24), (byte) 0xb0, 'A', (byte) 0xee, 0x66, 0x49, 0x75, (byte) 0xfb,
                (byte) 0xf4};
    }

    /** {@code mov dx,0x10; in al,dx; inc al; out dx,al; hlt}. */
    static final byte[] IN_INC_OUT = {(byte) 0xba, 0x10, 0x00, (byte) 0xec, (byte) 0xfe, (byte) 0xc0, (byte) 0xee,
            (byte) 0xf4};

    record Vm(Kvm kvm, KvmVm vm, KvmVcpu vcpu, MemorySegment mem) implements AutoCloseable {
        @Override
        public void close() {
            vcpu.close();
            vm.close();
            Libc.munmap(mem);
            kvm.close();
        }
    }

    static Vm realModeVm(byte[] code) {
        Kvm kvm = Kvm.open();
        KvmVm vm = kvm.createVm();
        MemorySegment mem = Libc.mmap(0x1000, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_ANONYMOUS, -1, 0);
        MemorySegment.copy(code, 0, mem, ValueLayout.JAVA_BYTE, 0, code.length);
        vm.setUserMemoryRegion(0, 0, LOAD, mem);
        KvmVcpu vcpu = vm.createVcpu(0);
        KvmSregs s = vcpu.getSregs();
        s.cs().base(0).selector(0);
        vcpu.setSregs(s);
        KvmRegs r = vcpu.getRegs();
        r.rip(LOAD).rflags(2);
        vcpu.setRegs(r);
        return new Vm(kvm, vm, vcpu, mem);
    }

    @Test
    void portOutputLoopRunsToHltWithOneExitPerOut() {
        int n = 1000;
        try (Vm v = realModeVm(outLoop(n))) {
            KvmRun run = v.vcpu().kvmRun();
            int exits = 0;
            long sum = 0;
            while (true) {
                assertThat(v.vcpu().run()).as("KVM_RUN errno %d", NativeCall.errno()).isZero();
                if (run.exitReason() != KvmExit.IO) {
                    break;
                }
                assertThat(run.ioDirection()).isEqualTo(KvmExit.IO_OUT);
                assertThat(run.ioPort()).isEqualTo(0x3f8);
                assertThat(run.ioSize()).isEqualTo(1);
                assertThat(run.ioCount()).isEqualTo(1);
                sum += run.ioData(0, 1);
                exits++;
            }
            assertThat(run.exitReason()).as(run.describe()).isEqualTo(KvmExit.HLT);
            assertThat(exits).isEqualTo(n);
            assertThat(sum).isEqualTo((long) 'A' * n);
            assertThat(v.vcpu().getRegs().rcx()).isZero();
        }
    }

    @Test
    void portInputValueReachesTheGuest() {
        try (Vm v = realModeVm(IN_INC_OUT)) {
            KvmRun run = v.vcpu().kvmRun();
            assertThat(v.vcpu().run()).isZero();
            assertThat(run.exitReason()).isEqualTo(KvmExit.IO);
            assertThat(run.ioDirection()).isEqualTo(KvmExit.IO_IN);
            assertThat(run.ioPort()).isEqualTo(0x10);
            run.ioData(0, 1, 0x41);
            assertThat(v.vcpu().run()).isZero();
            assertThat(run.exitReason()).isEqualTo(KvmExit.IO);
            assertThat(run.ioDirection()).isEqualTo(KvmExit.IO_OUT);
            assertThat(run.ioData(0, 1)).isEqualTo(0x42);
            assertThat(v.vcpu().run()).isZero();
            assertThat(run.exitReason()).isEqualTo(KvmExit.HLT);
        }
    }

    @Test
    void systemQueriesAnswer() {
        try (Kvm kvm = Kvm.open()) {
            assertThat(kvm.apiVersion()).isEqualTo(Kvm.API_VERSION);
            assertThat(kvm.vcpuMmapSize()).isGreaterThanOrEqualTo(4096);
            assertThat(kvm.checkExtension(KvmCap.USER_MEMORY)).isPositive();
            List<CpuidEntry> cpuid = kvm.supportedCpuid();
            assertThat(cpuid).anySatisfy(e -> assertThat(e.function()).isZero());
            assertThat(cpuid).anySatisfy(e -> assertThat(e.function()).isEqualTo(1));
            assertThat(kvm.msrIndexList()).isNotEmpty();
            assertThat(kvm.flavour().describe()).isNotBlank();
        }
    }

    @Test
    void vcpuStateRoundTrips() {
        try (Kvm kvm = Kvm.open(); KvmVm vm = kvm.createVm()) {
            vm.createIrqchip(); // before any vCPU (api.rst 4.24)
            vm.createPit2(KvmVm.KVM_PIT_SPEAKER_DUMMY);
            vm.setTssAddr(0xfffbd000L);
            vm.setIdentityMapAddr(0xfffbc000L);
            vm.irqLine(4, true);
            vm.irqLine(4, false);
            KvmVcpu vcpu = vm.createVcpu(0);
            KvmRegs r = vcpu.getRegs();
            r.rax(0x1234).rsp(0x8000).rip(0x2000).rflags(2);
            vcpu.setRegs(r);
            KvmRegs back = vcpu.getRegs();
            assertThat(back.rax()).isEqualTo(0x1234);
            assertThat(back.rsp()).isEqualTo(0x8000);
            assertThat(back.rip()).isEqualTo(0x2000);

            vcpu.setCpuid2(kvm.supportedCpuid());
            assertThat(vcpu.getCpuid2()).isNotEmpty();

            KvmFpu fpu = vcpu.getFpu();
            fpu.fcw(0x37f).mxcsr(0x1f80);
            vcpu.setFpu(fpu);
            assertThat(vcpu.getFpu().fcw()).isEqualTo(0x37f);

            vcpu.setMsrs(List.of(new MsrEntry(0x174, 0x10))); // IA32_SYSENTER_CS
            assertThat(vcpu.getMsrs(0x174)).containsExactly(new MsrEntry(0x174, 0x10));

            KvmLapicState lapic = vcpu.getLapic();
            assertThat(lapic.reg(KvmLapicState.APIC_ID) >>> 24).isZero();
            vcpu.setLapic(lapic);
            assertThat(vcpu.getMpState()).isEqualTo(KvmVcpu.MP_STATE_RUNNABLE);
            vcpu.close();
        }
    }

    @Test
    void missingDeviceIsAUserError() {
        assertThatThrownBy(() -> Kvm.open("/nonexistent/kvm")).isInstanceOf(UserError.class)
                .hasMessageContaining("does not exist");
    }
}
