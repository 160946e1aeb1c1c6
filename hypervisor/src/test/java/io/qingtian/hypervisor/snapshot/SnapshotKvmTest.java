package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmBuilder;
import io.qingtian.hypervisor.VmConfig;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pause, resume, snapshot and restore of a running guest on this host's KVM. */
@Tag("kvm")
class SnapshotKvmTest {
    private static final PciDevicesConfig NO_DEVICES = new PciDevicesConfig(List.of(), List.of(), false);

    @TempDir
    Path dir;

    private Vm boot(int cpus, ByteArrayOutputStream out) throws Exception {
        return CounterGuest.boot(dir, cpus, out);
    }

    private static long awaitCounterAbove(Vm vm, long floor) throws Exception {
        return CounterGuest.awaitCounterAbove(vm, floor);
    }

    @Test
    void pauseStopsGuestProgressAndResumeContinuesIt() throws Exception {
        try (Vm vm = boot(2, new ByteArrayOutputStream())) {
            awaitCounterAbove(vm, 1000);
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            long frozen = CounterGuest.counter(vm.ram().memory());
            Thread.sleep(200);
            assertThat(CounterGuest.counter(vm.ram().memory())).as("no progress while paused").isEqualTo(frozen);
            vm.resume();
            awaitCounterAbove(vm, frozen);
            assertThat(vm.paused()).isFalse();
        }
    }

    @Test
    void restoredGuestContinuesCountingFromTheSnapshot() throws Exception {
        Path state = dir.resolve("vm.snap");
        Path mem = dir.resolve("vm.mem");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long saved;
        List<io.qingtian.kvm.MsrEntry> mtrrDefType;
        try (Vm vm = boot(1, out)) {
            awaitCounterAbove(vm, 1000);
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            saved = CounterGuest.counter(vm.ram().memory());
            mtrrDefType = vm.vcpus().getFirst().getMsrs(io.qingtian.hypervisor.x86.BootMsrs.IA32_MTRR_DEF_TYPE);
            VmSnapshot.Created c = VmSnapshot.create(vm, NO_DEVICES, state, mem);
            assertThat(c.memoryFileBytes()).isEqualTo(64L << 20);
            assertThat(c.memoryDataBytes()).as("sparse: only touched pages").isLessThan(8L << 20).isPositive();
            assertThat(CounterGuest.counter(vm.ram().memory())).as("snapshot does not run the guest").isEqualTo(saved);
        }
        assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("OK\n");
        for (boolean copy : new boolean[] {false, true}) {
            List<String> warnings = new ArrayList<>();
            RestorePhases phases = new RestorePhases();
            try (Vm restored = VmSnapshot.restore(VmSnapshot.load(state, mem), new Console(new ByteArrayOutputStream(), null),
                    copy, warnings, phases)) {
                assertThat(CounterGuest.counter(restored.ram().memory())).isEqualTo(saved);
                // The builder no longer writes boot MSRs into a restored vCPU: the snapshot brings
                // them, including IA32_MTRR_DEF_TYPE, which KVM's MSR list lacks.
                assertThat(restored.vcpus().getFirst().getMsrs(io.qingtian.hypervisor.x86.BootMsrs.IA32_MTRR_DEF_TYPE))
                        .as("MTRR default type").isEqualTo(mtrrDefType);
                assertThat(phases.phases()).extracting(RestorePhases.Phase::name)
                        .contains(copy ? "memory: wait for copy" : "memory: file mapped", "build: vcpus", "state: vcpus",
                                "state: devices")
                        .doesNotContain("build: acpi", "build: kernel load");
                restored.start();
                long now = awaitCounterAbove(restored, saved + 1000);
                assertThat(now).isGreaterThan(saved);
                assertThat(restored.awaitExit(Duration.ofMillis(50))).as("restored guest keeps running").isNull();
            }
        }
        // MAP_PRIVATE: the restored guest's writes never reach the memory file.
        try (Vm again = VmSnapshot.restore(VmSnapshot.load(state, mem), new Console(new ByteArrayOutputStream(), null),
                false, new ArrayList<>())) {
            assertThat(CounterGuest.counter(again.ram().memory())).isEqualTo(saved);
        }
    }

    @Test
    void snapshotOfARunningVmIsRefusedAndWritesNothing() throws Exception {
        try (Vm vm = boot(1, new ByteArrayOutputStream())) {
            awaitCounterAbove(vm, 0);
            assertThatThrownBy(() -> VmSnapshot.create(vm, NO_DEVICES, dir.resolve("s"), dir.resolve("m")))
                    .isInstanceOf(SnapshotException.class).hasMessageContaining("paused");
            assertThat(Files.exists(dir.resolve("s"))).isFalse();
        }
    }

    @Test
    void devicesComeBackWithTheStateTheyHadAtTheSnapshot() throws Exception {
        Path state = dir.resolve("dev.snap");
        Path mem = dir.resolve("dev.mem");
        PciDevicesConfig withRng = new PciDevicesConfig(List.of(), List.of(), true);
        VmConfig cfg = new VmConfig(new VmConfig.Machine(1, 64L << 20),
                new VmConfig.BootSource(CounterGuest.kernel(dir), null, "console=ttyS0"), withRng);
        java.util.Map<String, byte[]> before;
        try (Vm vm = VmBuilder.build(cfg, new Console(new ByteArrayOutputStream(), null))) {
            vm.start();
            awaitCounterAbove(vm, 1000);
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            PlatformDevices d = vm.snapshotDevices();
            d.serial().write(7, 1, 0xA5); // scratch register
            d.serial().write(1, 1, 0x02); // THRI: an interrupt pending at the snapshot
            d.i8042().write(4, 1, 0x20); // a reply waiting in the output buffer
            d.pm().write(2, 2, 0x0100);
            d.pci().getFirst().assignBar(0, 0xe000_0000L);
            VmSnapshot.create(vm, withRng, state, mem);
            before = comparable(d);
        }
        VmSnapshot.Loaded loaded = VmSnapshot.load(state, mem);
        assertThat(loaded.devices()).containsOnlyKeys("com1", "i8042", "rtc", "acpi_pm", "pci.0");
        try (Vm restored = VmSnapshot.restore(loaded, new Console(new ByteArrayOutputStream(), null), false, new ArrayList<>())) {
            java.util.Map<String, byte[]> after = comparable(restored.snapshotDevices());
            for (String name : before.keySet()) {
                assertThat(after.get(name)).as(name).isEqualTo(before.get(name));
            }
            restored.start();
            awaitCounterAbove(restored, CounterGuest.counter(restored.ram().memory()) + 1000);
        }
    }

    /** Each device's state without the parts that follow the host clock (RTC time stamps, PM timer). */
    private static java.util.Map<String, byte[]> comparable(PlatformDevices d) {
        java.util.Map<String, byte[]> m = new java.util.LinkedHashMap<>();
        m.put("com1", d.serial().saveState().encode());
        m.put("i8042", d.i8042().saveState().encode());
        m.put("rtc", d.rtc().saveState().nvram());
        AcpiPmState pm = d.pm().saveState();
        m.put("acpi_pm", new AcpiPmState(pm.pm1Sts(), pm.pm1En(), pm.pm1Cnt(), 0).encode());
        m.put("pci.0", d.pci().getFirst().saveState().encode());
        return m;
    }

    @Test
    void prewarmRunsTheWholeLoadPath() throws Exception {
        VmSnapshot.prewarmOrThrow(); // write, load (CRC, META, device records), map, set state: no error
    }
}
