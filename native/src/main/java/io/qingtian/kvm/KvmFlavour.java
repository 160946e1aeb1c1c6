package io.qingtian.kvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which kind of KVM serves /dev/kvm. Hardware KVM (VT-x or AMD-V) runs stock guest kernels;
 * PVM (Pagetable-based Virtual Machine, module {@code kvm_pvm}) is a software KVM vendor
 * that only runs specially built "PVM guest" kernels natively: stock Linux stops with an
 * emulation failure there, while small test payloads run fine.
 */
public enum KvmFlavour {
    INTEL_VMX("hardware KVM (Intel VT-x)", true),
    AMD_SVM("hardware KVM (AMD-V)", true),
    PVM("PVM (kvm_pvm, software KVM without VT-x/AMD-V: runs only PVM-enabled guest kernels, not stock Linux)", false),
    UNKNOWN("KVM of an unknown kind (no vmx/svm CPU flag, no kvm_pvm module)", false);

    private static final Pattern FLAGS = Pattern.compile("(?m)^flags\\s*:(.*)$");

    private final String sentence;
    private final boolean runsStockGuests;

    KvmFlavour(String sentence, boolean runsStockGuests) {
        this.sentence = sentence;
        this.runsStockGuests = runsStockGuests;
    }

    /** A human sentence fragment, e.g. "hardware KVM (AMD-V)". */
    public String describe() {
        return sentence;
    }

    /** Whether a stock (non-PVM) Linux kernel can boot on this KVM. */
    public boolean runsStockGuests() {
        return runsStockGuests;
    }

    /** Detects the flavour of this host from /sys/module and /proc/cpuinfo. */
    public static KvmFlavour detect() {
        return detect(Files.isDirectory(Path.of("/sys/module/kvm_pvm")), readCpuinfo());
    }

    /** The decision, separated from the file system for tests. PVM wins: it loads even on VMX hosts. */
    static KvmFlavour detect(boolean pvmModuleLoaded, String cpuinfo) {
        if (pvmModuleLoaded) {
            return PVM;
        }
        var m = FLAGS.matcher(cpuinfo);
        if (m.find()) {
            List<String> flags = List.of(m.group(1).trim().split("\\s+"));
            if (flags.contains("vmx")) {
                return INTEL_VMX;
            }
            if (flags.contains("svm")) {
                return AMD_SVM;
            }
        }
        return UNKNOWN;
    }

    private static String readCpuinfo() {
        try {
            return Files.readString(Path.of("/proc/cpuinfo"));
        } catch (IOException e) {
            return "";
        }
    }
}
