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
        return assemble(config.machine(), config.devices(), config.boot(), console, kvm, null, null, null);
    }

    /**
     * What a build does first and which depends on no configuration: /dev/kvm opened, a KVM VM
     * with its TSS and identity-map addresses, in-kernel irqchip and PIT, vCPU 0 (every VM has
     * one; its CPUID, which depends on the vCPU count, is set at the build) and the host's
     * supported CPUID. A hypervisor waiting for a snapshot load makes one ahead (its
     * "standby"), so the load does not pay for it: KVM_CREATE_VM, the irqchip and vCPU
     * creation are slow under nested virtualization (the lab: ~30 ms quiet, 100-600 ms loaded).
     * Owned by the VM it goes into.
     */
    public record Shell(Kvm kvm, KvmVm vm, KvmVcpu vcpu0, List<CpuidEntry> supportedCpuid) implements AutoCloseable {
        public Shell {
            supportedCpuid = List.copyOf(supportedCpuid);
        }

        public static Shell create() {
            Kvm kvm = Kvm.open();
            KvmVm vm = null;
            try {
                vm = createVm(kvm);
                List<CpuidEntry> supported = kvm.supportedCpuid();
                return new Shell(kvm, vm, vm.createVcpu(0), supported);
            } catch (RuntimeException e) {
                if (vm != null) {
                    vm.close();
                }
                kvm.close();
                throw e;
            }
        }

        @Override
        public void close() {
            try {
                vcpu0.close();
                vm.close();
            } finally {
                kvm.close();
            }
        }
    }

    private static KvmVm createVm(Kvm kvm) {
        KvmVm vm = kvm.createVm();
        try {
            vm.setTssAddr(X86Layout.KVM_TSS_ADDRESS);
            vm.setIdentityMapAddr(X86Layout.KVM_IDENTITY_MAP_ADDRESS);
            vm.createIrqchip();
            vm.createPit2(KvmVm.KVM_PIT_SPEAKER_DUMMY);
            return vm;
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Builds the platform of a VM whose memory comes from a snapshot (issue 8): the same
     * memory slots, irqchip, devices and vCPUs (with CPUID), but no ACPI tables, kernel or boot
     * registers: those are in the restored memory and vCPU state, which the caller sets before
     * {@link Vm#start()}. {@code restoredRam} is owned by the VM from here on.
     */
    public static Vm buildForRestore(VmConfig.Machine machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig devices,
                                     Console console, GuestRam restoredRam) {
        return buildForRestore(machine, devices, console, restoredRam, null);
    }

    /**
     * {@link #buildForRestore(VmConfig.Machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig, Console, GuestRam)}
     * that also records each build step's time on {@code phases} (null: none).
     *
     * <p>Only what the snapshot does not carry is done here. Skipped, because the restore
     * overwrites it: the ACPI tables (in the restored memory), the boot MSRs, FPU control words,
     * XCR0 and LINT0/LINT1 (KVM_SET_MSRS, KVM_SET_FPU/XSAVE, KVM_SET_XCRS, KVM_SET_LAPIC from
     * the snapshot; boot MSRs that a snapshot lacks are written by {@code VcpuState.restore}).
     * Kept: the VM's TSS and identity-map addresses, irqchip and PIT (KVM_SET_IRQCHIP/PIT2 need
     * them to exist), and each vCPU's CPUID, which the snapshot does not hold and which KVM
     * needs before MSRs, LAPIC and XSAVE state are set (api.rst, KVM_SET_CPUID2; Firecracker's
     * KvmVcpu::restore_state sets CPUID first too).
     */
    public static Vm buildForRestore(VmConfig.Machine machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig devices,
                                     Console console, GuestRam restoredRam,
                                     io.qingtian.hypervisor.snapshot.RestorePhases phases) {
        return buildForRestore(machine, devices, console, restoredRam, phases, null);
    }

    /**
     * As above, on a {@link Shell} made ahead (null: made now). The shell belongs to the VM from
     * here on, or is closed if the build fails.
     */
    public static Vm buildForRestore(VmConfig.Machine machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig devices,
                                     Console console, GuestRam restoredRam,
                                     io.qingtian.hypervisor.snapshot.RestorePhases phases, Shell shell) {
        Kvm kvm;
        try {
            kvm = shell != null ? shell.kvm() : Kvm.open();
        } catch (RuntimeException e) {
            restoredRam.close();
            throw e;
        }
        return assemble(machine, devices, null, console, kvm, restoredRam, phases, shell);
    }

    private static Vm assemble(VmConfig.Machine machine, io.qingtian.hypervisor.vhostuser.PciDevicesConfig devices,
                               VmConfig.BootSource boot, Console console, Kvm kvm, GuestRam restoredRam,
                               io.qingtian.hypervisor.snapshot.RestorePhases phases, Shell shell) {
        List<AutoCloseable> cleanup = new ArrayList<>();
        cleanup.add(kvm);
        if (shell != null) {
            cleanup.add(shell.vm());
            cleanup.add(shell.vcpu0());
        }
        if (restoredRam != null) {
            cleanup.add(restoredRam);
        }
        PhaseTrace trace = new PhaseTrace(System.getenv("QT_TRACE_BUILD") != null, phases);
        try {
            int n = machine.vcpus();
            int max = kvm.maxVcpus();
            if (n > max) {
                throw new UserError("too many vCPUs: " + n + " (this host's KVM allows at most " + max + ")");
            }

            trace.start();
            // 1. The VM and its in-kernel interrupt controllers and timer (before any vCPU).
            KvmVm vm;
            if (shell != null) {
                vm = shell.vm(); // made ahead, while the hypervisor waited
            } else {
                vm = createVm(kvm);
                cleanup.add(vm);
            }

            trace.mark(shell != null ? "build: kvm vm+irqchip (standby)" : "build: kvm vm+irqchip");
            // 2. Guest memory.
            GuestRam ram = restoredRam != null ? restoredRam : GuestRam.allocate(machine.memoryBytes(), machine.backing());
            if (restoredRam == null) {
                cleanup.add(ram);
            }
            ram.register(vm);

            trace.mark("build: guest ram");
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

            trace.mark("build: legacy devices");
            // 3b. PCI segment 0: virtio-pci devices (card-served over vhost-user, and virtio-rng).
            PciSegment pci = PciSegment.build(vm, ram.memory(), X86Layout.MMIO_HOLE_END + ram.highBytes(), devices);
            cleanup.add(pci);
            pci.addPorts(pioBuilder);
            pci.addMmio(mmioBuilder);
            Bus pio = pioBuilder.build();
            Bus mmio = mmioBuilder.build();

            trace.mark("build: pci");
            // 4. ACPI tables (the only way this kernel finds the other CPUs: no MP table support).
            // The same composition the card measures (GuestPlatform, acpi module), from this VM's
            // APIC IDs and PCI windows; with --expect-acpi-sha384 it must measure to the card's value.
            LoadedKernel kernel = null;
            if (boot != null) { // a restored VM has its tables and kernel in the restored memory
                AcpiBlob acpi = platform(n, pci.hostBridge()).tables();
                if (acpi.endAddress() > X86Layout.ACPI_END) {
                    throw new IllegalStateException("ACPI tables overflow the BIOS area: end 0x" + Long.toHexString(acpi.endAddress()));
                }
                AcpiExpectation.check(acpi);
                for (AcpiBlob.Chunk c : acpi.chunks()) {
                    ram.memory().write(c.gpa(), c.bytes());
                }

                trace.mark("build: acpi");
                // 5. Kernel, initramfs, command line, boot information.
                List<E820Entry> e820 = E820Entry.forRam(ram.lowBytes(), ram.highBytes());
                kernel = KernelLoader.load(ram.memory(), boot.kernel(), boot.initramfs(), boot.cmdline(),
                        ram.lowBytes(), e820, acpi.rsdpAddress());
                BootCpu.writeTables(ram.memory(), kernel.protocol() == LoadedKernel.Protocol.LINUX_64
                        ? BootCpu.longModeGdt() : BootCpu.protectedModeGdt());
                trace.mark("build: kernel load");
            }

            // 6. vCPUs. The application processors wait for INIT/SIPI from the boot CPU in the
            // in-kernel LAPIC (KVM starts them in MP_STATE_UNINITIALIZED), so only vCPU 0 gets
            // the entry state.
            boolean restoring = kernel == null;
            List<CpuidEntry> supported = shell != null ? shell.supportedCpuid() : kvm.supportedCpuid();
            boolean xcrs = !restoring && kvm.checkExtension(Xcr0.KVM_CAP_XCRS) > 0;
            List<KvmVcpu> vcpus = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                KvmVcpu v;
                if (i == 0 && shell != null) {
                    v = shell.vcpu0(); // already on the cleanup list
                } else {
                    v = vm.createVcpu(i);
                    cleanup.add(v);
                }
                vcpus.add(v);
                // CPUID first, restored or not: the snapshot does not hold it, and KVM checks
                // MSRs, XSAVE and the LAPIC against it.
                List<CpuidEntry> cpuid = CpuidTopology.forVcpu(supported, i, n);
                v.setCpuid2(cpuid);
                if (restoring) {
                    continue; // XCRS, MSRs, FPU/XSAVE and LAPIC come from the snapshot (VcpuState.restore)
                }
                if (xcrs) {
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

            trace.mark("build: vcpus");
            Vm result = new Vm(kvm, vm, ram, pio, mmio, vcpus);
            self.set(result);
            result.setSnapshotDevices(new io.qingtian.hypervisor.snapshot.PlatformDevices(serial, i8042, rtc, pm, pci.functions()));
            result.addResource(pci);
            result.addResource(rtc);
            result.addResource(serial);
            if (console.in() != null) {
                startInputPump(console.in(), serial);
            }
            trace.mark("build: vm");
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

    /**
     * How long each build step took: printed with QT_TRACE_BUILD set (for start-up work), and
     * recorded on a restore's {@link io.qingtian.hypervisor.snapshot.RestorePhases}.
     */
    private static final class PhaseTrace {
        private final boolean print;
        private final io.qingtian.hypervisor.snapshot.RestorePhases phases;
        private long last = System.nanoTime();

        PhaseTrace(boolean print, io.qingtian.hypervisor.snapshot.RestorePhases phases) {
            this.print = print;
            this.phases = phases;
        }

        void start() {
            last = System.nanoTime();
            if (phases != null) {
                phases.mark("build: kvm open");
            }
        }

        void mark(String finished) {
            long now = System.nanoTime();
            if (print) {
                System.err.printf("qt: %s %.1f ms%n", finished, (now - last) / 1e6);
            }
            if (phases != null) {
                phases.mark(finished);
            }
            last = now;
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
