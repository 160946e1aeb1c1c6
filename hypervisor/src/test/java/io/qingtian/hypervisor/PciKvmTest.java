package io.qingtian.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.pci.MsiMessage;
import io.qingtian.hypervisor.pci.PciBus;
import io.qingtian.hypervisor.pci.PciConfigIo;
import io.qingtian.hypervisor.pci.PciInterrupts;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.hypervisor.virtio.VirtioRng;
import io.qingtian.kvm.IrqRoute;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** PCI on this host's /dev/kvm with tiny real-mode payloads (hand-assembled, listed beside the bytes). */
@Tag("kvm")
class PciKvmTest {
    private static final Duration LIMIT = Duration.ofSeconds(60); // an outcome ends the wait; sized for a loaded CI machine

    static void write(Vm vm, long gpa, byte[] code) {
        try {
            vm.ram().memory().write(gpa, code);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void guestReadsTheVirtioDeviceIdsThroughPortCf8() throws Exception {
        // mov eax,0x80000800; mov dx,0xcf8; out dx,eax; mov dx,0xcfc; in eax,dx; out 0x80,eax;
        // mov eax,0x80000000; mov dx,0xcf8; out dx,eax; mov dx,0xcfc; in eax,dx; out 0x80,eax; hlt
        byte[] code = {0x66, (byte) 0xb8, 0x00, 0x08, 0x00, (byte) 0x80, (byte) 0xba, (byte) 0xf8, 0x0c, 0x66, (byte) 0xef,
                (byte) 0xba, (byte) 0xfc, 0x0c, 0x66, (byte) 0xed, 0x66, (byte) 0xe7, (byte) 0x80,
                0x66, (byte) 0xb8, 0x00, 0x00, 0x00, (byte) 0x80, (byte) 0xba, (byte) 0xf8, 0x0c, 0x66, (byte) 0xef,
                (byte) 0xba, (byte) 0xfc, 0x0c, 0x66, (byte) 0xed, 0x66, (byte) 0xe7, (byte) 0x80, (byte) 0xf4};
        PciBus pci = new PciBus();
        RecordingDevice post = new RecordingDevice(0);
        Bus pio = Bus.builder().add(PciConfigIo.PORT, PciConfigIo.LENGTH, new PciConfigIo(pci), "pci").add(0x80, 4, post, "post").build();
        try (Vm vm = PayloadVm.create(0x10000, 1, false, pio, Bus.builder().build(), v -> {
            pci.add(new VirtioPciDevice(new VirtioRng(v.ram().memory()), (vec, m) -> { }, level -> { }));
            write(v, 0x1000, code);
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        })) {
            vm.start();
            VmExit exit = vm.awaitExit(LIMIT);
            assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.HALTED);
            assertThat(post.writes()).extracting(RecordingDevice.Access::value)
                    .containsExactly(0x1044_1af4L, 0x0d57_8086L); // virtio-rng (modern), then the host bridge
        }
    }

    @Test
    void ioeventfdCatchesTheNotifyWriteWithoutAnExitToUserSpace() throws Exception {
        // mov ax,0x2000; mov ds,ax; mov word [0x0],0x1; mov word [0x0],0x1; hlt   (0x20000 is not RAM)
        byte[] code = {(byte) 0xb8, 0x00, 0x20, (byte) 0x8e, (byte) 0xd8, (byte) 0xc7, 0x06, 0x00, 0x00, 0x01, 0x00,
                (byte) 0xc7, 0x06, 0x00, 0x00, 0x01, 0x00, (byte) 0xf4};
        RecordingDevice mmioDev = new RecordingDevice(0);
        Bus mmio = Bus.builder().add(0x20000, 0x1000, mmioDev, "notify").build();
        int fd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        try (Vm vm = PayloadVm.create(0x10000, 1, false, Bus.builder().build(), mmio, v -> {
            new io.qingtian.hypervisor.vhostuser.KvmDataPath(v.kvmVm()).registerKick(fd, 0x20000);
            write(v, 0x1000, code);
            PayloadVm.realMode(v.vcpus().get(0), 0x1000);
        })) {
            vm.start();
            VmExit exit = vm.awaitExit(LIMIT);
            assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.HALTED);
            assertThat(new EventFd().consume(fd)).as("kicks counted by the eventfd").isEqualTo(2);
            assertThat(mmioDev.accesses).as("no MMIO exit reached user space").isEmpty();
            assertThat(vm.exitCounts()[0]).isLessThanOrEqualTo(1); // only the HLT
        } finally {
            Libc.closeQuietly(fd);
        }
    }

    @Test
    void msixVectorsGetOneGsiEachAndRoutesFollowTheTable() throws Exception {
        try (Vm vm = PayloadVm.create(0x10000, 1, true, Bus.builder().build(), Bus.builder().build(), v -> { });
             PciInterrupts irq = new PciInterrupts(vm.kvmVm())) {
            irq.install();
            PciInterrupts.Vectors a = irq.allocate("a", 3);
            PciInterrupts.Vectors b = irq.allocate("b", 2);
            assertThat(a.gsi(0)).isEqualTo(24);
            assertThat(a.gsi(2)).isEqualTo(26);
            assertThat(b.gsi(0)).isEqualTo(27);
            a.routeChanged(1, new MsiMessage(0xfee0_1000L, 0x4041), true);
            b.routeChanged(0, new MsiMessage(0x1234_0000L, 0x30), true); // bogus: not the MSI window
            List<IrqRoute> table = irqTable(irq);
            assertThat(table).contains(new IrqRoute.Msi(25, 0xfee0_1000L, 0x4041));
            assertThat(table).noneMatch(r -> r.gsi() == 27);
            assertThat(table).contains(new IrqRoute.Irqchip(16, IrqRoute.IOAPIC, 16), new IrqRoute.Irqchip(3, IrqRoute.PIC_MASTER, 3));
            a.routeChanged(1, new MsiMessage(0xfee0_2000L, 0x4042), false); // masked: the route stays, updated
            assertThat(irqTable(irq)).contains(new IrqRoute.Msi(25, 0xfee0_2000L, 0x4042));
            a.deliver(1, new MsiMessage(0xfee0_2000L, 0x4042)); // through the vector's irqfd: must not throw
            a.deliver(7, new MsiMessage(0xfee0_2000L, 0x4042)); // no such vector: ignored
        }
    }

    private static List<IrqRoute> irqTable(PciInterrupts irq) {
        return irq.routingTable();
    }
}
