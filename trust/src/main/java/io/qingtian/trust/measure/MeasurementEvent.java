package io.qingtian.trust.measure;

import java.util.Arrays;

/**
 * One event-log entry (cf. TCG PC Client PFP TCG_PCR_EVENT2, reduced): which PCR, what kind of
 * thing, the SHA-384 that was extended, and a description for humans (not measured).
 */
public record MeasurementEvent(int pcr, Type type, byte[] digest, String description) {
    public enum Type { HYPERVISOR_BUILD, KERNEL, INITRAMFS, CMDLINE, ACPI_TABLE, IMAGE_SIGNER }

    public MeasurementEvent {
        digest = digest.clone();
    }

    @Override
    public byte[] digest() {
        return digest.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MeasurementEvent e && e.pcr == pcr && e.type == type
                && Arrays.equals(e.digest, digest) && e.description.equals(description);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(digest);
    }
}
