package io.qingtian.acpi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The measurement of a set of ACPI tables: the SHA-384 of each table (the RSDP and the FACS
 * included) in the order they are placed, and the value a zeroed PCR reaches when each digest
 * is extended into it with TPM 2.0 semantics, {@code PCR = SHA-384(PCR || digest)}.
 *
 * <p>The card extends the same digests, in the same order, into its ACPI PCR (trust/README.md),
 * so {@link #pcrValue()} is that PCR's value; the hypervisor recomputes it over the tables it
 * built and refuses to start on a difference ({@code --expect-acpi-sha384}). Addresses are
 * covered too: the RSDP holds the RSDT/XSDT addresses, those hold the other tables' addresses,
 * the FADT holds the FACS and DSDT addresses, and the RSDP's own address is the fixed
 * {@link GuestPlatform#TABLE_BASE}.
 */
public record AcpiMeasurement(List<Table> tables) {
    public static final int SHA384_LENGTH = 48;

    /** One measured table: its signature ("RSDP" for the RSD PTR structure), where it is, its digest. */
    public record Table(String signature, long gpa, int length, byte[] sha384) {
        public Table {
            sha384 = sha384.clone();
        }

        @Override
        public byte[] sha384() {
            return sha384.clone();
        }

        public String sha384Hex() {
            return HexFormat.of().formatHex(sha384);
        }
    }

    public AcpiMeasurement {
        tables = List.copyOf(tables);
    }

    public static AcpiMeasurement of(AcpiBlob blob) {
        List<Table> out = new ArrayList<>();
        for (AcpiBlob.Chunk c : blob.chunks()) {
            out.add(new Table(c.signature(), c.gpa(), c.bytes().length, sha384(c.bytes())));
        }
        return new AcpiMeasurement(out);
    }

    /** The extend chain over every table's digest, from 48 zero bytes. */
    public byte[] pcrValue() {
        byte[] pcr = new byte[SHA384_LENGTH];
        for (Table t : tables) {
            MessageDigest md = newSha384();
            md.update(pcr);
            md.update(t.sha384);
            pcr = md.digest();
        }
        return pcr;
    }

    public String pcrValueHex() {
        return HexFormat.of().formatHex(pcrValue());
    }

    /** The table's 4-character signature; the RSDP's 8-byte "RSD PTR " is named "RSDP". */
    static String signature(byte[] table) {
        if (table.length >= 8 && new String(table, 0, 8, StandardCharsets.US_ASCII).equals("RSD PTR ")) {
            return "RSDP";
        }
        return table.length < 4 ? "????" : new String(table, 0, 4, StandardCharsets.US_ASCII);
    }

    static byte[] sha384(byte[] data) {
        return newSha384().digest(data);
    }

    private static MessageDigest newSha384() {
        try {
            return MessageDigest.getInstance("SHA-384");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always has SHA-384", e);
        }
    }
}
