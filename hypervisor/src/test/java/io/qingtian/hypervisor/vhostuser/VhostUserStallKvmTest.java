package io.qingtian.hypervisor.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.bus.BusDevice;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.virtio.VirtioPciDevice;
import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmRegs;
import io.qingtian.kvm.KvmSregs;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stall on /dev/kvm, where it hurt: a vCPU thread activates the device (its MMIO write of
 * DRIVER_OK reaches the proxy) while the back-end, connected and past the handshake, no
 * longer answers. The vCPU is held one reply bound, the device gets DEVICE_NEEDS_RESET like
 * after a hang-up, the guest goes on running, and the VM closes in bounded time.
 */
@Tag("kvm")
class VhostUserStallKvmTest {
    static final Duration BOUND = Duration.ofMillis(300);
    static final long BAR = 0xc0000; // outside the guest's 64 KiB of RAM: MMIO exits
    static final int REPORT_PORT = 0xf0;

    @TempDir
    Path tmp;

    /**
     * Real mode at 0x1000, DS = BAR >> 4; the driver's init (virtio 1.2 §3.1.1) without
     * queues, then the status it reads back and 0xaa to the report port, then HLT:
     * <pre>
     *   mov ax,0xc000 ; mov ds,ax
     *   mov byte [0x14],0 ; mov byte [0x14],3            reset; ACKNOWLEDGE|DRIVER
     *   mov dword [0x08],1 ; mov dword [0x0c],1          driver_feature[63:32] = VERSION_1
     *   mov byte [0x14],0x0b ; mov byte [0x14],0x0f      FEATURES_OK; DRIVER_OK (activation)
     *   mov al,[0x14] ; mov dx,0xf0 ; out dx,al          device_status, as the guest sees it
     *   mov al,0xaa ; out dx,al ; hlt                    still running
     * </pre>
     */
    static final byte[] DRIVER = {
            (byte) 0xb8, 0x00, (byte) 0xc0, (byte) 0x8e, (byte) 0xd8,
            (byte) 0xc6, 0x06, 0x14, 0x00, 0x00, (byte) 0xc6, 0x06, 0x14, 0x00, 0x03,
            0x66, (byte) 0xc7, 0x06, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x66, (byte) 0xc7, 0x06, 0x0c, 0x00, 0x01, 0x00, 0x00, 0x00,
            (byte) 0xc6, 0x06, 0x14, 0x00, 0x0b, (byte) 0xc6, 0x06, 0x14, 0x00, 0x0f,
            (byte) 0xa0, 0x14, 0x00, (byte) 0xba, (byte) REPORT_PORT, 0x00, (byte) 0xee,
            (byte) 0xb0, (byte) 0xaa, (byte) 0xee, (byte) 0xf4};

    @Test
    void aVcpuActivatingAStalledBackEndIsHeldOneBoundAndTheVmRunsOn() throws Exception {
        VhostUserProxyTest.MemBackend disk = new VhostUserProxyTest.MemBackend();
        Path real = tmp.resolve("real.sock");
        Path sock = tmp.resolve("relay.sock");
        List<Long> reports = new CopyOnWriteArrayList<>();
        try (VhostUserBlkServer server = VhostUserBlkServer.start(real, disk, 1, false);
             StallingRelay relay = new StallingRelay(sock, real)) {
            Kvm kvm = Kvm.open();
            KvmVm kvmVm = kvm.createVm();
            GuestRam ram = GuestRam.allocate(0x10000); // memfd: shareable with the back-end
            ram.register(kvmVm);
            KvmVcpu vcpu = kvmVm.createVcpu(0);
            VhostUserProxy proxy = VhostUserProxy.connect(VhostUserDeviceSpec.parseDisk("socket=" + sock), ram.memory(),
                    new KvmDataPath(kvmVm), BOUND);
            VirtioPciDevice pci = new VirtioPciDevice(proxy, (v, m) -> { }, level -> { });
            pci.assignBar(0, BAR);
            pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
            proxy.attach(pci, v -> 40 + v);
            BusDevice bar = new BusDevice() {
                @Override public long read(long offset, int size) { return pci.barRead(pci.bar0(), offset, size); }
                @Override public void write(long offset, int size, long value) { pci.barWrite(pci.bar0(), offset, size, value); }
            };
            BusDevice report = new BusDevice() {
                @Override public long read(long offset, int size) { return 0; }
                @Override public void write(long offset, int size, long value) { reports.add(value); }
            };
            Bus pio = Bus.builder().add(REPORT_PORT, 1, report, "report").build();
            Bus mmio = Bus.builder().add(BAR, VirtioPciDevice.BAR_SIZE, bar, "virtio-blk").build();
            Vm vm = new Vm(kvm, kvmVm, ram, pio, mmio, List.of(vcpu));
            vm.addResource(proxy);
            ram.memory().write(0x1000, DRIVER);
            KvmSregs s = vcpu.getSregs();
            s.cs().base(0).selector(0);
            vcpu.setSregs(s);
            KvmRegs r = vcpu.getRegs();
            r.rip(0x1000).rflags(2);
            vcpu.setRegs(r);

            relay.stall = true; // past the handshake: from here on nothing is answered
            long t0 = System.nanoTime();
            vm.start();
            VmExit exit = vm.awaitExit(Duration.ofSeconds(60)); // the outcome ends the wait; without the bound it never comes
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(exit).as("the guest ran on after the stalled activation").isNotNull();
            assertThat(exit.status()).as(exit.detail()).isEqualTo(ExitStatus.HALTED);
            assertThat(ms).as("the vCPU was held about one bound").isBetween(250L, 30_000L);
            assertThat(reports).hasSize(2);
            assertThat(reports.get(0) & VirtioPciDevice.STATUS_NEEDS_RESET).as("the guest sees DEVICE_NEEDS_RESET")
                    .isEqualTo(VirtioPciDevice.STATUS_NEEDS_RESET);
            assertThat(reports.get(1)).isEqualTo(0xaa);
            assertThat(proxy.disconnects()).as("handled as a disconnect").isEqualTo(1);
            assertThat(relay.dropped.get()).as("SET_FEATURES went unanswered").isPositive();

            long t1 = System.nanoTime();
            assertThat(vm.close(Duration.ofSeconds(5))).as("everything released").isTrue();
            assertThat((System.nanoTime() - t1) / 1_000_000).as("close is not held by the stalled back-end").isLessThan(5_000L);
        }
    }
}
