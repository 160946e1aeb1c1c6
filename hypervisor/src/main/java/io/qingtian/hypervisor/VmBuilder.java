package io.qingtian.hypervisor;

import io.qingtian.acpi.AcpiBlob;
import io.qingtian.acpi.AcpiConfig;
import io.qingtian.acpi.GuestPlatform;
import io.qingtian.acpi.PciHostBridge;
import io.qingtian.hypervisor.boot.E820Entry;
import io.qingtian.hypervisor.boot.KernelLoader;
import io.qingtian.hypervisor.boot.LoadedKernel;
import io.qingtian.hypervisor.bus.Bus;
import io.qingtian.hypervisor.bus.KvmIrqLine;
import io.qingtian.hypervisor.devices.AcpiPm;
import io.qingtian.hypervisor.devices.CmosRtc;
import io.qingtian.hypervisor.devices.I8042;
import io.qingtian.hypervisor.devices.Serial16550;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.virtio.PciSegment;
import io.qingtian.hypervisor.x86.BootCpu;
import io.qingtian.hypervisor.x86.BootMsrs;
import io.qingtian.hypervisor.x86.CpuidTopology;
import io.qingtian.hypervisor.x86.X86Layout;
import io.qingtian.hypervisor.x86.Xcr0;
import io.qingtian.kvm.CpuidEntry;
import io.qingtian.kvm.Kvm;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.UserError;
import io.qingtian.virtio.memory.GuestMemoryException;
import java.io.IOException;
import java.io.InputStream;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one place that turns a {@link VmConfig} into a runnable {@link Vm} (Firecracker's
 * builder.rs), in this order: KVM VM and in-kernel irqchip/PIT, guest memory, platform
 * devices on the buses, ACPI tables, kernel + initramfs + boot information, then the vCPUs
 * with CPUID/MSRs/FPU/LAPIC and the boot vCPU at the kernel's entry.
 */
public final class VmBuilder {
    /** ISA IRQs of the platform devices (their GSIs on the in-kernel PIC/IOAPIC). */
    static final int COM1_GSI = Serial16550.COM1_IRQ;
    static final int KBD_GSI = I8042.KBD_IRQ;
    static final int RTC_GSI = CmosRtc.RTC_IRQ;
    static final int SCI_GSI = AcpiConfig.SCI_IRQ;

    private VmBuilder() {}

    /** Builds the VM; nothing runs until {@link Vm#start()}. Bad input is a {@link UserError}. */
    public static Vm build(VmConfig config, Console console) {
        return build(config, console, Kvm.open());
    }

    static Vm build(VmConfig config, Console console, Kvm kvm) {
        return assemble(config.machine(), config.devices(), config.boot(), console, kvm, null);
    }

    /**
     * Builds the platform of a VM whose memory comes from a snapshot (issue 8): the same
     * memory slots, irqchip, devices and vCPUs (with CPUID), but no ACPI tables, kernel or boot
     * registers: those are in the restored memory and vCPU state, which the caller sets before
     * {@link Vm#start()}. {@code restoredRam} is owned by the VM from here on.
     */
    public static Vm buildForRestore(VmConfig.Machine machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig devices,
                                     Console console, GuestRam restoredRam) {
        return assemble(machine, devices, null, console, Kvm.open(), restoredRam);
    }

    private static Vm assemble(VmConfig.Machine machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig devices,
                               VmConfig.BootSource boot, Console console, Kvm kvm, GuestRam restoredRam) {
        List<AutoCloseable> cleanup = new ArrayList<>();
        cleanup.add(kvm);
        if (restoredRam != null) {
            cleanup.add(restoredRam);
        }
        PhaseTrace trace = new PhaseTrace(System.getenv("QT_TRACE_BUILD") != null);
        try {
            int n = machine.vcpus();
            int max = kvm.maxVcpus();
            if (n > max) {
                throw new UserError("too many vCPUs: " + n + " (this host's KVM allows at most " + max + ")");
            }

            trace.mark("start");
            // 1. The VM and its in-kernel interrupt controllers and timer (before any vCPU).
            KvmVm vm = kvm.createVm();
            cleanup.add(vm);
            vm.setTssAddr(X86Layout.KVM_TSS_ADDRESS);
            vm.setIdentityMapAddr(X86Layout.KVM_IDENTITY_MAP_ADDRESS);
            vm.createIrqchip();
            vm.createPit2(KvmVm.KVM_PIT_SPEAKER_DUMMY);

            trace.mark("kvm vm+irqchip");
            // 2. Guest memory.
            GuestRam ram = restoredRam != null ? restoredRam : GuestRam.allocate(machine.memoryBytes(), machine.backing());
            if (restoredRam == null) {
                cleanup.add(ram);
            }
            ram.register(vm);

            trace.mark("guest ram");
            // 3. Platform devices. Their stop callbacks reach the Vm, which exists only at the end.
            AtomicReference<Vm> self = new AtomicReference<>();
            Runnable powerOff = () -> stop(self, ExitStatus.POWEROFF, "guest powered off (ACPI S5)");
            Runnable acpiReset = () -> stop(self, ExitStatus.REBOOT, "guest reset (ACPI reset register)");
            Runnable kbdReset = () -> stop(self, ExitStatus.REBOOT, "guest reset (i8042 reset line)");
            Serial16550 serial = new Serial16550(new KvmIrqLine(vm, COM1_GSI), console.out());
            cleanup.add(serial);
            I8042 i8042 = new I8042(kbdReset, new KvmIrqLine(vm, KBD_GSI));
            CmosRtc rtc = new CmosRtc(ram.lowBytes(), ram.highBytes(), new KvmIrqLine(vm, RTC_GSI), InstantSource.system());
            cleanup.add(rtc);
            AcpiPm pm = new AcpiPm(powerOff, acpiReset, new KvmIrqLine(vm, SCI_GSI), System::nanoTime);
            Bus.Builder pioBuilder = Bus.builder()
                    .add(Serial16550.COM1_PORT, Serial16550.PORT_LENGTH, serial, "COM1")
                    .add(I8042.PORT_BASE, I8042.PORT_LENGTH, i8042, "i8042")
                    .add(CmosRtc.PORT_BASE, CmosRtc.PORT_LENGTH, rtc, "CMOS RTC")
                    .add(AcpiPm.PORT_BASE, AcpiPm.PORT_LENGTH, pm, "ACPI PM");
            Bus.Builder mmioBuilder = Bus.builder();

            trace.mark("legacy devices");
            // 3b. PCI segment 0: virtio-pci devices (card-served over vhost-user, and virtio-rng).
            PciSegment pci = PciSegment.build(vm, ram.memory(), X86Layout.MMIO_HOLE_END + ram.highBytes(), devices);
            cleanup.add(pci);
            pci.addPorts(pioBuilder);
            pci.addMmio(mmioBuilder);
            Bus pio = pioBuilder.build();
            Bus mmio = mmioBuilder.build();

            trace.mark("pci");
            // 4. ACPI tables (the only way this kernel finds the other CPUs: no MP table support).
            // The same composition the card measures (GuestPlatform, acpi module), from this VM's
            // APIC IDs and PCI windows; with --expect-acpi-sha384 it must measure to the card's value.
            AcpiBlob acpi = platform(n, pci.hostBridge()).tables();
            if (acpi.endAddress() > X86Layout.ACPI_END) {
                throw new IllegalStateException("ACPI tables overflow the BIOS area: end 0x" + Long.toHexString(acpi.endAddress()));
            }
            LoadedKernel kernel = null;
            if (boot != null) { // a restored VM has its tables and kernel in the restored memory
                AcpiExpectation.check(acpi);
                for (AcpiBlob.Chunk c : acpi.chunks()) {
                    ram.memory().write(c.gpa(), c.bytes());
                }

                trace.mark("acpi");
                // 5. Kernel, initramfs, command line, boot information.
                List<E820Entry> e820 = E820Entry.forRam(ram.lowBytes(), ram.highBytes());
                kernel = KernelLoader.load(ram.memory(), boot.kernel(), boot.initramfs(), boot.cmdline(),
                        ram.lowBytes(), e820, acpi.rsdpAddress());
                BootCpu.writeTables(ram.memory(), kernel.protocol() == LoadedKernel.Protocol.LINUX_64
                        ? BootCpu.longModeGdt() : BootCpu.protectedModeGdt());
            }

            trace.mark("kernel load");
            // 6. vCPUs. The application processors wait for INIT/SIPI from the boot CPU in the
            // in-kernel LAPIC (KVM starts them in MP_STATE_UNINITIALIZED), so only vCPU 0 gets
            // the entry state.
            List<CpuidEntry> supported = kvm.supportedCpuid();
            boolean xcrs = kvm.checkExtension(Xcr0.KVM_CAP_XCRS) > 0;
            List<KvmVcpu> vcpus = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                KvmVcpu v = vm.createVcpu(i);
                vcpus.add(v);
                cleanup.add(v);
                List<CpuidEntry> cpuid = CpuidTopology.forVcpu(supported, i, n);
                v.setCpuid2(cpuid);
                if (xcrs && kernel != null) { // a restored vCPU gets its saved XCRS instead
                    Xcr0.apply(v, cpuid);
                }
                v.setMsrs(BootMsrs.entries());
                BootCpu.setupFpu(v);
                BootCpu.setupLint(v);
            }
            KvmVcpu bsp = vcpus.get(0);
            if (kernel == null) {
                // restored: the snapshot sets every vCPU's state
            } else if (kernel.protocol() == LoadedKernel.Protocol.LINUX_64) {
                BootCpu.enterLongMode(bsp, kernel.entry(), kernel.bootInfo());
            } else {
                BootCpu.enterProtectedMode(bsp, kernel.entry(), kernel.bootInfo());
            }

            trace.mark("vcpus");
            Vm result = new Vm(kvm, vm, ram, pio, mmio, vcpus);
            self.set(result);
            trace.mark("done");
            result.setSnapshotDevices(new io.qingtian.hypervisor.snapshot.PlatformDevices(serial, i8042, rtc, pm, pci.functions()));
            result.addResource(pci);
            result.addResource(rtc);
            result.addResource(serial);
            if (console.in() != null) {
                startInputPump(console.in(), serial);
            }
            return result;
        } catch (GuestMemoryException e) {
            closeAll(cleanup);
            throw new UserError("memory too small: " + e.getMessage());
        } catch (RuntimeException e) {
            closeAll(cleanup);
            throw e;
        }
    }

    /** The platform the ACPI tables describe: {@code n} vCPUs with their CPUID APIC IDs, PCI segment 0. */
    static GuestPlatform platform(int n, PciHostBridge pci) {
        List<Integer> apicIds = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            apicIds.add(CpuidTopology.apicId(i));
        }
        return new GuestPlatform(apicIds, pci);
    }

    /** With QT_TRACE_BUILD set, prints how long each build step took (for start-up work). */
    private static final class PhaseTrace {
        private final boolean on;
        private long last = System.nanoTime();

        PhaseTrace(boolean on) {
            this.on = on;
        }

        void mark(String finished) {
            if (on) {
                long now = System.nanoTime();
                System.err.printf("qt: build: %s %d ms%n", finished, (now - last) / 1_000_000);
                last = now;
            }
        }
    }

    private static void stop(AtomicReference<Vm> self, ExitStatus status, String why) {
        Vm vm = self.get();
        if (vm != null) {
            vm.requestStop(new VmExit(status, -1, why));
        }
    }

    /** Host input to the guest's COM1, on a virtual thread (blocking reads are its natural shape). */
    private static void startInputPump(InputStream in, Serial16550 serial) {
        Thread.ofVirtual().name("console-input").start(() -> {
            byte[] buf = new byte[256];
            try {
                int r;
                while ((r = in.read(buf)) > 0) {
                    serial.queueInput(java.util.Arrays.copyOf(buf, r));
                }
            } catch (IOException ignored) {
                // host input closed: the guest simply gets no more input
            }
        });
    }

    private static void closeAll(List<AutoCloseable> resources) {
        for (int i = resources.size() - 1; i >= 0; i--) {
            try {
                resources.get(i).close();
            } catch (Exception ignored) {
                // the original error matters more
            }
        }
    }
}
