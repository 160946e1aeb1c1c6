package io.qingtian.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class KvmFlavourTest {
    @Test
    void pvmModuleMeansPvmEvenWithVmx() {
        assertThat(KvmFlavour.detect(true, "flags\t\t: fpu vmx sse\n")).isEqualTo(KvmFlavour.PVM);
        assertThat(KvmFlavour.PVM.runsStockGuests()).isFalse();
    }

    @Test
    void cpuFlagsNameTheHardwareVendor() {
        assertThat(KvmFlavour.detect(false, "processor: 0\nflags\t\t: fpu vme vmx ept\n")).isEqualTo(KvmFlavour.INTEL_VMX);
        assertThat(KvmFlavour.detect(false, "flags\t\t: fpu svm npt\nbugs: none\n")).isEqualTo(KvmFlavour.AMD_SVM);
        assertThat(KvmFlavour.detect(false, "flags\t\t: fpu sse2 hypervisor\n")).isEqualTo(KvmFlavour.UNKNOWN);
        assertThat(KvmFlavour.detect(false, "")).isEqualTo(KvmFlavour.UNKNOWN);
        assertThat(KvmFlavour.AMD_SVM.runsStockGuests()).isTrue();
    }

    @Test
    void svmvmxSubstringsDoNotCount() {
        assertThat(KvmFlavour.detect(false, "flags\t\t: fpu vmx_extra nosvm\n")).isEqualTo(KvmFlavour.UNKNOWN);
    }
}
