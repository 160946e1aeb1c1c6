package io.qingtian.acpi;

import java.util.List;

/**
 * The generated tables, ready to copy into guest memory.
 *
 * @param rsdpAddress guest-physical address of the RSDP (for boot_params.acpi_rsdp_addr or
 *                    PVH's hvm_start_info.rsdp_paddr)
 * @param chunks      byte ranges to write, sorted by address, non-overlapping; all lie in
 *                    [{@link #startAddress()}, {@link #endAddress()}), which the e820 map
 *                    must mark reserved (or ACPI data)
 */
public record AcpiBlob(long rsdpAddress, List<Chunk> chunks) {

    /** One table (or the RSDP) at its guest-physical address. */
    public record Chunk(long gpa, byte[] bytes) {
        public long end() {
            return gpa + bytes.length;
        }

        /** The table's 4-character signature; the RSDP's 8-byte "RSD PTR " is named "RSDP". */
        public String signature() {
            return AcpiMeasurement.signature(bytes);
        }
    }

    public AcpiBlob {
        chunks = List.copyOf(chunks);
    }

    public long startAddress() {
        return chunks.stream().mapToLong(Chunk::gpa).min().orElse(rsdpAddress);
    }

    /** One past the last byte of the last chunk. */
    public long endAddress() {
        return chunks.stream().mapToLong(Chunk::end).max().orElse(rsdpAddress);
    }
}
