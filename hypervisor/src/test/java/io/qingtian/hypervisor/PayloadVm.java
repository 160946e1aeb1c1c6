package io.qingtian.hypervisor;

import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmRegs;
import io.qingtian.kvm.KvmSregs;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Assembles a {@link Vm} around raw payload bytes, for tests on /dev/kvm. */
final class PayloadVm {
    private PayloadVm() {}

    /**
     * @param irqchip  create the in-kernel irqchip (then HLT no longer exits to user space)
     * @param setup    writes payloads into memory and sets vCPU state, before start
     */
    static Vm create(long ramBytes, int vcpuCount, boolean irqchip, Bus pio, Bus mmio, Consumer<Vm> setup) {
        Kvm kvm = Kvm.open();
        KvmVm vm = kvm.createVm();
        if (irqchip) {
            vm.createIrqchip();
        }
        GuestRam ram = GuestRam.allocate(ramBytes);
        ram.register(vm);
        List<KvmVcpu> vcpus = new ArrayList<>();
        for (int i = 0; i < vcpuCount; i++) {
            vcpus.add(vm.createVcpu(i));
        }
        Vm v = new Vm(kvm, vm, ram, pio, mmio, vcpus);
        setup.accept(v);
        return v;
    }

    /** Real mode, CS base 0, IP {@code rip}. */
    static void realMode(KvmVcpu vcpu, long rip) {
        KvmSregs s = vcpu.getSregs();
        s.cs().base(0).selector(0);
        vcpu.setSregs(s);
        KvmRegs r = vcpu.getRegs();
        r.rip(rip).rflags(2);
        vcpu.setRegs(r);
    }
}
