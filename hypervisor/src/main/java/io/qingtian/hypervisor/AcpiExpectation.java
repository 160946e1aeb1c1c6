package io.qingtian.hypervisor;

import io.qingtian.acpi.AcpiBlob;
import io.qingtian.acpi.AcpiMeasurement;
import io.qingtian.sys.UserError;
import java.util.HexFormat;
import java.util.Locale;

/**
 * What the card measured as this guest's ACPI tables (issue 7), so the measurement binds: the
 * card computes the tables for the instance it launches, extends them into its ACPI PCR and
 * passes the PCR value ({@code --expect-acpi-sha384 HEX}); {@link VmBuilder} recomputes the
 * value over the tables it actually built and refuses to place them on any difference, before
 * guest memory holds a byte of them or a vCPU exists.
 *
 * <p>Process-wide: one hypervisor process runs one VM (the architecture), and the expectation is
 * a property of the launch like {@code --seccomp}; holding it here lets every way of building
 * the VM (boot flags, {@code --config-file}, the API) honour it.
 */
public final class AcpiExpectation {
    private static volatile byte[] expected;

    private AcpiExpectation() {}

    /** Sets the expectation from 96 hex digits; bad text is a {@link UserError}. */
    public static void require(String hex) {
        String h = hex == null ? "" : hex.trim().toLowerCase(Locale.ROOT);
        if (h.length() != 2 * AcpiMeasurement.SHA384_LENGTH || !h.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw new UserError("--expect-acpi-sha384 needs 96 hex digits (a SHA-384 value), got '" + hex + "'");
        }
        expected = HexFormat.of().parseHex(h);
    }

    /** Forgets the expectation (tests). */
    static void clear() {
        expected = null;
    }

    /**
     * Passes when nothing is expected or the tables measure to the expected value; otherwise a
     * {@link UserError} that names both values (exit status 2: the launch input and this build
     * disagree, no guest ran).
     */
    static void check(AcpiBlob tables) {
        byte[] want = expected;
        if (want == null) {
            return;
        }
        AcpiMeasurement m = AcpiMeasurement.of(tables);
        if (!java.security.MessageDigest.isEqual(want, m.pcrValue())) {
            throw new UserError("ACPI tables differ from what the card measured: built " + m.pcrValueHex()
                    + ", expected " + HexFormat.of().formatHex(want) + " (refusing to start the guest)");
        }
    }
}
