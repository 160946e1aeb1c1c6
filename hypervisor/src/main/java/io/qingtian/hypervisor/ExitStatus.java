package io.qingtian.hypervisor;

/**
 * How a VM ended, and the process exit status {@code qt hypervisor run} returns for it.
 *
 * <table>
 *   <caption>Exit statuses</caption>
 *   <tr><th>status</th><th>code</th><th>meaning</th></tr>
 *   <tr><td>POWEROFF</td><td>0</td><td>the guest powered off: ACPI S5 (SLP_EN in PM1a_CNT) or a KVM
 *       shutdown system event</td></tr>
 *   <tr><td>HALTED</td><td>0</td><td>every vCPU executed HLT with no interrupt controller to wake it
 *       (tiny payloads without an irqchip); a clean end</td></tr>
 *   <tr><td>HYPERVISOR_ERROR</td><td>1</td><td>the hypervisor itself failed (host error or bug)</td></tr>
 *   <tr><td>(user error)</td><td>2</td><td>bad input, reported by the CLI before the VM runs</td></tr>
 *   <tr><td>REBOOT</td><td>3</td><td>the guest asked to reboot: ACPI reset register, i8042 pulse
 *       of the reset line (0xFE to port 0x64), or a KVM reset system event. A kernel panic with
 *       {@code panic=N} also ends this way, because the kernel reboots after N seconds.</td></tr>
 *   <tr><td>CRASH</td><td>4</td><td>the guest crashed: a triple fault (KVM_EXIT_SHUTDOWN) or a KVM
 *       crash system event</td></tr>
 *   <tr><td>KVM_INTERNAL_ERROR</td><td>5</td><td>KVM could not run the guest: KVM_EXIT_INTERNAL_ERROR
 *       (e.g. an instruction emulation failure, which is what a stock kernel hits on PVM) or a
 *       failed VM entry</td></tr>
 *   <tr><td>STOPPED</td><td>6</td><td>the host stopped the VM (API call, timeout, signal)</td></tr>
 * </table>
 */
public enum ExitStatus {
    POWEROFF(0),
    HALTED(0),
    HYPERVISOR_ERROR(1),
    REBOOT(3),
    CRASH(4),
    KVM_INTERNAL_ERROR(5),
    STOPPED(6);

    private final int code;

    ExitStatus(int code) {
        this.code = code;
    }

    /** The process exit status for this outcome. */
    public int code() {
        return code;
    }
}
