package io.qingtian.hypervisor.virtio;

import io.qingtian.acpi.AmlSource;
import io.qingtian.acpi.PciHostBridge;
import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.pci.BarAllocator;
import io.qingtian.hypervisor.pci.PciBus;
import io.qingtian.hypervisor.pci.PciConfigIo;
import io.qingtian.hypervisor.pci.PciConfigMmio;
import io.qingtian.hypervisor.pci.PciInterrupts;
import io.qingtian.hypervisor.pci.PciLayout;
import io.qingtian.hypervisor.pci.PciMmioWindow;
import io.qingtian.hypervisor.vhostuser.DataPath;
import io.qingtian.hypervisor.vhostuser.KvmDataPath;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.hypervisor.vhostuser.VhostUserDeviceSpec;
import io.qingtian.hypervisor.vhostuser.VhostUserProxy;
import io.qingtian.kvm.KvmVm;
import io.qingtian.virtio.memory.GuestMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * PCI segment 0 of a VM, assembled for {@code VmBuilder}: the bus with its host bridge, the
 * virtio-pci functions (card-served vhost-user disks and NICs, the in-process virtio-rng),
 * BARs placed by {@link BarAllocator}, MSI-X vectors on KVM GSIs, the config mechanisms
 * (ports 0xCF8-0xCFF, ECAM), the MMIO windows that dispatch BAR accesses, and the ACPI
 * pieces (MCFG, {@code \_SB_.PCI0}).
 */
public final class PciSegment implements AutoCloseable {
    private final PciLayout layout;
    private final PciBus bus = new PciBus();
    private final PciInterrupts interrupts;
    private final List<VirtioPciDevice> functions = new ArrayList<>();
    private final List<AutoCloseable> resources = new ArrayList<>();

    private PciSegment(PciLayout layout, PciInterrupts interrupts) {
        this.layout = layout;
        this.interrupts = interrupts;
    }

    /**
     * Builds the segment; vhost-user back-ends are connected now (an unreachable socket is a
     * {@code UserError}).
     *
     * @param ramEnd first guest-physical address above RAM (the 64-bit window goes above it)
     */
    public static PciSegment build(KvmVm vm, GuestMemory memory, long ramEnd, PciDevicesConfig devices) {
        PciSegment s = new PciSegment(PciLayout.forRamEnd(ramEnd), new PciInterrupts(vm));
        try {
            s.interrupts.install();
            DataPath dataPath = new KvmDataPath(vm, s.interrupts);
            BarAllocator bars = s.layout.barAllocator();
            for (VhostUserDeviceSpec d : devices.disks()) {
                s.addProxy(VhostUserProxy.connect(d, memory, dataPath), bars);
            }
            for (VhostUserDeviceSpec n : devices.nets()) {
                s.addProxy(VhostUserProxy.connect(n, memory, dataPath), bars);
            }
            if (devices.rng()) {
                s.add(new VirtioRng(memory), "virtio-rng", bars);
            }
            return s;
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private void addProxy(VhostUserProxy proxy, BarAllocator bars) {
        resources.add(proxy);
        VirtioPciDevice pci = add(proxy, proxy.spec().describe(), bars);
        proxy.attach(pci, vectorsOf(pci)::gsi);
    }

    private final List<PciInterrupts.Vectors> vectorList = new ArrayList<>();

    private PciInterrupts.Vectors vectorsOf(VirtioPciDevice pci) {
        return vectorList.get(functions.indexOf(pci));
    }

    private VirtioPciDevice add(VirtioDevice device, String name, BarAllocator bars) {
        PciInterrupts.Vectors vectors = interrupts.allocate(name, device.queueCount() + 1);
        AtomicInteger slot = new AtomicInteger(-1);
        VirtioPciDevice pci = new VirtioPciDevice(device, vectors,
                level -> interrupts.intx(slot.get()).accept(level));
        slot.set(bus.add(pci));
        pci.config().set8(io.qingtian.hypervisor.pci.PciConfigSpace.INTERRUPT_LINE, PciInterrupts.intxGsi(slot.get(), 0));
        bars.place(pci);
        functions.add(pci);
        vectorList.add(vectors);
        return pci;
    }

    public PciLayout layout() {
        return layout;
    }

    public PciBus bus() {
        return bus;
    }

    public List<VirtioPciDevice> functions() {
        return List.copyOf(functions);
    }

    /** Port I/O: configuration mechanism #1 at 0xCF8-0xCFF. */
    public void addPorts(Bus.Builder pio) {
        pio.add(PciConfigIo.PORT, PciConfigIo.LENGTH, new PciConfigIo(bus), "PCI config (0xCF8)");
    }

    /** MMIO: ECAM for bus 0 and the two BAR windows. */
    public void addMmio(Bus.Builder mmio) {
        mmio.add(layout.ecamBase(), PciConfigMmio.SIZE_ONE_BUS, new PciConfigMmio(bus), "PCI ECAM");
        mmio.add(layout.mmio32Base(), layout.mmio32Size(), new PciMmioWindow(bus, layout.mmio32Base()), "PCI 32-bit window");
        mmio.add(layout.mmio64Base(), layout.mmio64Size(), new PciMmioWindow(bus, layout.mmio64Base()), "PCI 64-bit window");
    }

    /** {@code \_SB_.PCI0} for the DSDT. */
    public AmlSource aml() {
        return hostBridge().aml();
    }

    /** The segment as the ACPI tables describe it (same windows and ECAM as {@link #layout()}). */
    public PciHostBridge hostBridge() {
        return hostBridge(layout);
    }

    /** {@code layout} as the ACPI tables describe it. */
    public static PciHostBridge hostBridge(PciLayout layout) {
        return new PciHostBridge(layout.ecamBase(), layout.mmio32Base(), layout.mmio32Size(),
                layout.mmio64Base(), layout.mmio64Size());
    }

    /** Tables beyond the fixed set: the MCFG. */
    public List<byte[]> acpiTables() {
        return List.of(hostBridge().mcfg());
    }

    @Override
    public void close() {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception ignored) {
                // teardown continues
            }
        }
        interrupts.close();
    }
}
