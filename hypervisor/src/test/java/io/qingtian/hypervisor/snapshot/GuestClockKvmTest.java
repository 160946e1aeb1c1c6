package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.vcpu.GuestClockPause;
import io.qingtian.hypervisor.vhostuser.PciDevicesConfig;
import io.qingtian.kvm.KvmStateIoctls;
import io.qingtian.kvm.MsrEntry;
import io.qingtian.virtio.memory.GuestMemory;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest's kvm-clock across pause/resume and snapshot/restore, on this host's KVM (PVM here:
 * kvm-clock is common x86 KVM code, which PVM keeps). The counter guest does not enable
 * kvm-clock itself, so the test does what a Linux guest's kvmclock_init does, from the host:
 * it writes MSR_KVM_SYSTEM_TIME_NEW with the address of a pvclock_vcpu_time_info and the
 * enable bit (KVM accepts host-initiated writes of it). KVM then keeps that structure up to
 * date at every vCPU entry, and sets PVCLOCK_GUEST_STOPPED in it when it was told
 * (KVM_KVMCLOCK_CTRL) that the host stopped the vCPU: what these tests look for.
 */
@Tag("kvm")
class GuestClockKvmTest {
    private static final PciDevicesConfig NO_DEVICES = new PciDevicesConfig(List.of(), List.of(), false);
    /** MSR_KVM_SYSTEM_TIME_NEW (Documentation/virt/kvm/x86/msr.rst). */
    private static final int MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
    /** Where the test puts the vCPU's pvclock_vcpu_time_info: a free page of the counter guest. */
    private static final long PVTI_GPA = 0x31_0000L;
    /** struct pvclock_vcpu_time_info: version u32, pad u32, tsc_timestamp, system_time, mul u32, shift s8, flags u8. */
    private static final int PVTI_VERSION = 0;
    private static final int PVTI_FLAGS = 29;
    private static final int PVCLOCK_GUEST_STOPPED = 1 << 1;

    @TempDir
    Path dir;

    private Vm boot() throws Exception {
        return CounterGuest.boot(dir, 1, new ByteArrayOutputStream());
    }

    private static long awaitCounterAbove(Vm vm, long floor) throws Exception {
        return CounterGuest.awaitCounterAbove(vm, floor);
    }

    /** Enables kvm-clock on vCPU 0 of a paused VM, with a zeroed pvclock structure. */
    private static void enableKvmclock(Vm vm) throws Exception {
        vm.ram().memory().write(PVTI_GPA, new byte[32]);
        vm.vcpus().getFirst().setMsrs(List.of(new MsrEntry(MSR_KVM_SYSTEM_TIME_NEW, PVTI_GPA | 1)));
    }

    /** The flags of the pvclock structure once the guest has run on (1000 more counts) and KVM has written it (version != 0). */
    private static int pvclockFlagsAfterProgress(Vm vm) throws Exception {
        GuestMemory mem = vm.ram().memory();
        awaitCounterAbove(vm, CounterGuest.counter(mem) + 1000); // the vCPU entered the guest since
        assertThat(mem.readU32(PVTI_GPA + PVTI_VERSION)).as("KVM wrote the pvclock structure").isNotZero();
        return mem.read(PVTI_GPA + PVTI_FLAGS, 1)[0] & 0xff;
    }

    @Test
    void resumeTellsTheGuestsKvmclockItWasStopped() throws Exception {
        List<String> log = new ArrayList<>();
        try (Vm vm = boot()) {
            vm.setClockPause(new GuestClockPause(log::add));
            awaitCounterAbove(vm, 1000);
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            // Without kvm-clock enabled KVM answers EINVAL: silently nothing to do.
            assertThat(vm.notifyGuestClockStopped()).isZero();
            enableKvmclock(vm);
            vm.resume();
            int flags = pvclockFlagsAfterProgress(vm);
            assertThat(flags & PVCLOCK_GUEST_STOPPED).as("PVCLOCK_GUEST_STOPPED after the resume").isNotZero();

            // The guest clears the flag when its watchdog has seen it; the next pause sets it again.
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            vm.ram().memory().write(PVTI_GPA + PVTI_FLAGS, new byte[] {0});
            vm.resume();
            assertThat(pvclockFlagsAfterProgress(vm) & PVCLOCK_GUEST_STOPPED).as("set again by the second resume").isNotZero();
        }
        assertThat(log).as("nothing to report").isEmpty();
    }

    @Test
    void restoreSetsTheSavedClockAndTellsTheGuestItWasStopped() throws Exception {
        Path state = dir.resolve("clock.snap");
        Path mem = dir.resolve("clock.mem");
        long savedClock;
        try (Vm vm = boot()) {
            awaitCounterAbove(vm, 1000);
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            enableKvmclock(vm);
            vm.resume();
            pvclockFlagsAfterProgress(vm);
            // Let the source VM's clock run well past what a fresh VM's shows at its restore.
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (kvmClock(vm) < 1_000_000_000L) {
                assertThat(System.nanoTime()).as("the source VM's clock passes 1 s").isLessThan(deadline);
                assertThat(vm.awaitExit(Duration.ofMillis(50))).isNull();
            }
            assertThat(vm.pause(Duration.ofSeconds(5))).isTrue();
            VmSnapshot.create(vm, NO_DEVICES, state, mem);
        }
        long afterSnapshot = System.nanoTime();
        VmSnapshot.Loaded loaded = VmSnapshot.load(state, mem);
        savedClock = ByteBuffer.wrap(loaded.vmState().require("clock")).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertThat(savedClock).as("KVM_GET_CLOCK saved").isGreaterThanOrEqualTo(1_000_000_000L);
        List<String> log = new ArrayList<>();
        try (Vm restored = VmSnapshot.restore(loaded, new Console(new ByteArrayOutputStream(), null), false,
                new ArrayList<>())) {
            long clock = kvmClock(restored);
            long sinceSnapshot = System.nanoTime() - afterSnapshot;
            // KVM_SET_CLOCK: the restored clock continues from the saved one (a fresh VM's starts near 0).
            assertThat(clock).as("kvm-clock after restore").isGreaterThanOrEqualTo(savedClock)
                    .isLessThan(savedClock + sinceSnapshot + 1_000_000_000L);
            assertThat(restored.vcpus().getFirst().getMsrs(MSR_KVM_SYSTEM_TIME_NEW))
                    .as("kvm-clock enabled again by the saved MSR").containsExactly(new MsrEntry(MSR_KVM_SYSTEM_TIME_NEW, PVTI_GPA | 1));
            restored.setClockPause(new GuestClockPause(log::add));
            // The memory file had the flag from the source's resume: clear it (a private mapping) to see it set again.
            restored.ram().memory().write(PVTI_GPA + PVTI_FLAGS, new byte[] {0});
            restored.start();
            assertThat(pvclockFlagsAfterProgress(restored) & PVCLOCK_GUEST_STOPPED)
                    .as("PVCLOCK_GUEST_STOPPED after the restore").isNotZero();
        }
        assertThat(log).isEmpty();
    }

    @Test
    void anUnexpectedFailureIsReportedOnceAndIsNotFatal() {
        List<String> log = new ArrayList<>();
        GuestClockPause pause = new GuestClockPause(log::add);
        try (io.qingtian.kvm.Kvm kvm = io.qingtian.kvm.Kvm.open(); io.qingtian.kvm.KvmVm vm = kvm.createVm()) {
            io.qingtian.kvm.KvmVcpu vcpu = vm.createVcpu(0);
            assertThat(pause.notifyStopped(vcpu)).as("no kvm-clock enabled: EINVAL, silent").isFalse();
            assertThat(log).isEmpty();
            vcpu.close(); // its fd is gone: EBADF, which is not "no kvm-clock"
            assertThat(pause.notifyStopped(vcpu)).isFalse();
            assertThat(pause.notifyStopped(vcpu)).isFalse();
        }
        assertThat(log).hasSize(1);
        assertThat(log.getFirst()).contains("KVM_KVMCLOCK_CTRL", "EBADF", "reported once");
        assertThat(pause.reportedFailure()).isTrue();
    }

    private static long kvmClock(Vm vm) {
        return ByteBuffer.wrap(KvmStateIoctls.getClock(vm.kvmVm())).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }
}
