package io.qingtian.trust.measure;

import io.qingtian.acpi.AcpiBlob;
import io.qingtian.acpi.AcpiMeasurement;
import io.qingtian.trust.crypto.Sha384;
import io.qingtian.trust.image.BootVerdict;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.Map;

/**
 * Measures one instance launch: each input is hashed (SHA-384), extended into its PCR (see
 * {@link Pcr}) and logged. The card measures in a fixed order — hypervisor, kernel, initramfs,
 * cmdline, ACPI tables, signer — so identical inputs give identical PCRs.
 */
public final class MeasuredBoot {
    private final PcrBank bank = new PcrBank();
    private final EventLog log = new EventLog();

    /** PCR0: {@code buildDigest} from {@link HypervisorBuild#digest}. */
    public MeasuredBoot hypervisor(byte[] buildDigest, String description) {
        return record(Pcr.HYPERVISOR, MeasurementEvent.Type.HYPERVISOR_BUILD, buildDigest, description);
    }

    public MeasuredBoot kernel(MemorySegment image, String description) {
        return record(Pcr.KERNEL, MeasurementEvent.Type.KERNEL, digest(image), description);
    }

    public MeasuredBoot initramfs(MemorySegment image, String description) {
        return record(Pcr.INITRAMFS, MeasurementEvent.Type.INITRAMFS, digest(image), description);
    }

    public MeasuredBoot cmdline(String cmdline) {
        return record(Pcr.CMDLINE, MeasurementEvent.Type.CMDLINE,
                Sha384.of(cmdline.getBytes(StandardCharsets.UTF_8)), "cmdline: " + abbreviate(cmdline));
    }

    /**
     * PCR4: the guest's ACPI tables exactly as the hypervisor places them in guest memory, one
     * event per table in placement order (RSDP, RSDT, XSDT, FACP, FACS, APIC, DSDT, MCFG). The
     * description starts with the table's signature, so a guest can match each event with its
     * own {@code /sys/firmware/acpi/tables/SIG}. The resulting PCR4 equals
     * {@link AcpiMeasurement#pcrValue()}, which the hypervisor checks ({@code --expect-acpi-sha384}).
     */
    public MeasuredBoot acpiTables(AcpiBlob tables) {
        for (AcpiBlob.Chunk c : tables.chunks()) {
            record(Pcr.ACPI_TABLES, MeasurementEvent.Type.ACPI_TABLE, Sha384.of(c.bytes()),
                    c.signature() + " (ACPI table, " + c.bytes().length + " bytes at 0x" + Long.toHexString(c.gpa()) + ")");
        }
        return this;
    }

    /** PCR8: the trust anchor that verified the boot manifest (its SubjectPublicKeyInfo DER). */
    public MeasuredBoot imageSigner(PublicKey anchor, String description) {
        return record(Pcr.IMAGE_SIGNER, MeasurementEvent.Type.IMAGE_SIGNER, Sha384.of(anchor.getEncoded()), description);
    }

    /**
     * Everything secure boot verified: kernel, initramfs, cmdline and the signer, measured from
     * the same bytes the verdict carries (the ones that will be launched).
     */
    public MeasuredBoot verifiedImage(BootVerdict.Verified v) {
        // The verdict's digests were computed from exactly these bytes while verifying: no second pass.
        record(Pcr.KERNEL, MeasurementEvent.Type.KERNEL, v.kernel().sha384(), "kernel " + v.kernel().path().getFileName());
        v.initramfs().ifPresent(i -> record(Pcr.INITRAMFS, MeasurementEvent.Type.INITRAMFS, i.sha384(),
                "initramfs " + i.path().getFileName()));
        cmdline(v.cmdline());
        return imageSigner(v.anchor().key(), "image signer " + v.anchor().name());
    }

    public PcrBank pcrs() {
        return bank;
    }

    public Map<Integer, byte[]> pcrValues() {
        return bank.snapshot();
    }

    public EventLog eventLog() {
        return new EventLog(log.events());
    }

    private MeasuredBoot record(int pcr, MeasurementEvent.Type type, byte[] digest, String description) {
        bank.extend(pcr, digest);
        log.append(new MeasurementEvent(pcr, type, digest, description));
        return this;
    }

    /** Hashes a segment in chunks (a heap segment is hashed in place, no copy). */
    static byte[] digest(MemorySegment s) {
        MessageDigest md = Sha384.newDigest();
        if (s.isNative()) {
            byte[] buf = new byte[1 << 16];
            for (long off = 0; off < s.byteSize(); off += buf.length) {
                int n = (int) Math.min(buf.length, s.byteSize() - off);
                MemorySegment.copy(s, ValueLayout.JAVA_BYTE, off, buf, 0, n);
                md.update(buf, 0, n);
            }
        } else {
            md.update(s.asByteBuffer());
        }
        return md.digest();
    }

    private static String abbreviate(String s) {
        return s.length() <= 120 ? s : s.substring(0, 117) + "...";
    }
}
