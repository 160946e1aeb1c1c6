package io.qingtian.hypervisor;

/**
 * The outcome of a VM run.
 *
 * @param vcpu   the vCPU that observed the cause, or -1 (a device or the host)
 * @param detail a human sentence for logs and error messages
 */
public record VmExit(ExitStatus status, int vcpu, String detail) {
    public int code() {
        return status.code();
    }
}
