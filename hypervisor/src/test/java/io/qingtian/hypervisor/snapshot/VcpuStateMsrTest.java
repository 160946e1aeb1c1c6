package io.qingtian.hypervisor.snapshot;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.x86.BootMsrs;
import io.qingtian.kvm.MsrEntry;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A restored vCPU no longer gets the builder's boot MSRs first, so a snapshot saves them with
 * KVM's list, and a snapshot that lacks some gets their boot values at restore.
 */
class VcpuStateMsrTest {
    @Test
    void captureAddsTheBootMsrsKvmDoesNotList() {
        int[] kvmList = {BootMsrs.IA32_TSC, BootMsrs.MSR_LSTAR, 0x4b564d01};
        int[] all = VcpuState.withBootMsrs(kvmList);
        assertThat(all).startsWith(kvmList).contains(BootMsrs.IA32_MTRR_DEF_TYPE, BootMsrs.IA32_MISC_ENABLE)
                .doesNotHaveDuplicates().hasSize(3 + BootMsrs.entries().size() - 2);
    }

    @Test
    void restoreFillsOnlyTheBootMsrsASnapshotLacks() {
        List<MsrEntry> saved = List.of(new MsrEntry(BootMsrs.IA32_TSC, 123), new MsrEntry(BootMsrs.IA32_MISC_ENABLE, 0));
        List<MsrEntry> missing = VcpuState.missingBootMsrs(saved);
        assertThat(missing).extracting(MsrEntry::index)
                .contains(BootMsrs.IA32_MTRR_DEF_TYPE, BootMsrs.MSR_LSTAR)
                .doesNotContain(BootMsrs.IA32_TSC, BootMsrs.IA32_MISC_ENABLE);
        assertThat(missing).filteredOn(m -> m.index() == BootMsrs.IA32_MTRR_DEF_TYPE).extracting(MsrEntry::data)
                .containsExactly((1L << 11) | 6);
        assertThat(VcpuState.missingBootMsrs(BootMsrs.entries())).isEmpty();
    }
}
