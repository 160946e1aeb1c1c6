package io.qingtian.acpi;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Generates the guest's ACPI tables: RSDP, RSDT, XSDT, FADT, FACS, MADT and DSDT
 * (ACPI 6.4 chapter 5), laid out from {@link AcpiConfig#tableBase()} upwards:
 *
 * <pre>
 *   base        RSDP (36 bytes, 16-byte aligned: the BIOS-area scan finds it at 0xE0000)
 *   then        RSDT, XSDT, FADT, FACS (64-byte aligned), MADT, DSDT, each 16-byte aligned
 * </pre>
 *
 * Every table carries OEM ID "QTIANJ" and a checksum that makes it sum to zero.
 */
public final class AcpiTables {
    static final int RSDP_SIZE = 36;
    static final int RSDP_V1_SIZE = 20;
    static final int FACS_SIZE = 64;
    /** The BIOS read-only area the RSDP scan covers ends here (ACPI 6.4 section 5.2.5.1). */
    static final long BIOS_AREA_END = 0x10_0000L;

    private AcpiTables() {}

    public static AcpiBlob build(AcpiConfig config) {
        return build(config, List.of());
    }

    /**
     * As {@link #build(AcpiConfig)}, plus {@code extraTables} (complete tables with their own
     * header and checksum, e.g. {@link Mcfg}) placed after the DSDT and listed in RSDT/XSDT.
     */
    public static AcpiBlob build(AcpiConfig config, List<byte[]> extraTables) {
        byte[] dsdt = dsdt(config);
        byte[] madt = Madt.build(config);

        long base = config.tableBase();
        long rsdtAddr = align(base + RSDP_SIZE, 16);
        int rsdtSize = Sdt.HEADER_SIZE + 4 * (2 + extraTables.size());
        long xsdtAddr = align(rsdtAddr + rsdtSize, 16);
        int xsdtSize = Sdt.HEADER_SIZE + 8 * (2 + extraTables.size());
        long fadtAddr = align(xsdtAddr + xsdtSize, 16);
        long facsAddr = align(fadtAddr + Fadt.LENGTH, 64);
        long madtAddr = align(facsAddr + FACS_SIZE, 16);
        long dsdtAddr = align(madtAddr + madt.length, 16);
        long end = dsdtAddr + dsdt.length;
        long[] extraAddrs = new long[extraTables.size()];
        for (int i = 0; i < extraAddrs.length; i++) {
            extraAddrs[i] = align(end, 16);
            end = extraAddrs[i] + extraTables.get(i).length;
        }
        if (base < BIOS_AREA_END && end > BIOS_AREA_END) {
            throw new IllegalArgumentException("ACPI tables (" + (end - base) + " bytes) do not fit between 0x"
                    + Long.toHexString(base) + " and 1 MiB; use a different table base");
        }
        if (end > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("ACPI tables must lie below 4 GiB");
        }

        byte[] fadt = Fadt.build(config, facsAddr, dsdtAddr);
        long[] entries = new long[2 + extraAddrs.length];
        entries[0] = fadtAddr;
        entries[1] = madtAddr;
        System.arraycopy(extraAddrs, 0, entries, 2, extraAddrs.length);
        byte[] rsdt = rootTable("RSDT", 4, entries);
        byte[] xsdt = rootTable("XSDT", 8, entries);
        byte[] rsdp = rsdp(rsdtAddr, xsdtAddr);

        List<AcpiBlob.Chunk> chunks = new ArrayList<>();
        chunks.add(new AcpiBlob.Chunk(base, rsdp));
        chunks.add(new AcpiBlob.Chunk(rsdtAddr, rsdt));
        chunks.add(new AcpiBlob.Chunk(xsdtAddr, xsdt));
        chunks.add(new AcpiBlob.Chunk(fadtAddr, fadt));
        chunks.add(new AcpiBlob.Chunk(facsAddr, facs()));
        chunks.add(new AcpiBlob.Chunk(madtAddr, madt));
        chunks.add(new AcpiBlob.Chunk(dsdtAddr, dsdt));
        for (int i = 0; i < extraAddrs.length; i++) {
            chunks.add(new AcpiBlob.Chunk(extraAddrs[i], extraTables.get(i)));
        }
        return new AcpiBlob(base, chunks);
    }

    /**
     * Root System Description Pointer, revision 2 (5.2.5.3): the ACPI 1.0 checksum covers
     * the first 20 bytes, the extended checksum all 36.
     */
    static byte[] rsdp(long rsdtAddr, long xsdtAddr) {
        byte[] b = new byte[RSDP_SIZE];
        byte[] sig = "RSD PTR ".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(sig, 0, b, 0, 8);
        byte[] oem = Sdt.OEM_ID.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(oem, 0, b, 9, 6);
        b[15] = 2; // Revision: ACPI 2.0+ (XSDT present)
        Aml.putLe(b, 16, rsdtAddr, 4);
        Aml.putLe(b, 20, RSDP_SIZE, 4);
        Aml.putLe(b, 24, xsdtAddr, 8);
        b[8] = Sdt.checksum(b, 0, RSDP_V1_SIZE);
        b[32] = Sdt.checksum(b, 0, RSDP_SIZE);
        return b;
    }

    /** RSDT (4-byte entries, 5.2.7) or XSDT (8-byte entries, 5.2.8). */
    private static byte[] rootTable(String signature, int entrySize, long... entries) {
        Sdt t = new Sdt(signature, 1);
        for (long e : entries) {
            if (entrySize == 4) {
                t.u32(e);
            } else {
                t.u64(e);
            }
        }
        return t.finish();
    }

    /**
     * Firmware ACPI Control Structure (5.2.10), version 2: required when the FADT is not
     * hardware-reduced. We never sleep to S3/S4, so the waking vectors stay zero. It has
     * no checksum.
     */
    static byte[] facs() {
        byte[] b = new byte[FACS_SIZE];
        System.arraycopy("FACS".getBytes(StandardCharsets.US_ASCII), 0, b, 0, 4);
        Aml.putLe(b, 4, FACS_SIZE, 4);
        b[32] = 2; // Version
        return b;
    }

    /**
     * Differentiated System Description Table (5.2.11.1), revision 2 so that AML integers
     * are 64 bits wide. The legacy devices and CPUs selected in the config come first,
     * then each {@link AmlSource} in order.
     */
    static byte[] dsdt(AcpiConfig c) {
        AmlWriter w = new AmlWriter();
        if (c.describeCom1()) {
            w.append(LegacyDevices.COM1);
        }
        if (c.describeRtc()) {
            w.append(LegacyDevices.RTC);
        }
        if (c.describeI8042()) {
            w.append(LegacyDevices.KBD);
        }
        if (c.describeCpus()) {
            w.scope("\\_SB_", sb -> {
                for (int uid = 0; uid < c.cpus(); uid++) {
                    int id = uid;
                    sb.device(String.format("C%03X", uid), d -> d
                            .name("_HID", Aml.string("ACPI0007"))
                            .name("_UID", Aml.integer(id)));
                }
            });
        }
        for (AmlSource s : c.dsdtSources()) {
            s.appendAml(w);
        }
        return new Sdt("DSDT", 2).bytes(w.toByteArray()).finish();
    }

    static long align(long v, long a) {
        return (v + a - 1) & -a;
    }
}
