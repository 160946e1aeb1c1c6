package io.qingtian.acpi;

import java.util.List;
import java.util.stream.IntStream;

/**
 * The guest platform the ACPI tables describe, and the one place that composes the tables from
 * it. The hypervisor places {@link #tables()} in guest memory; the card computes the same
 * {@link #tables()} from the instance's vCPU count and memory size before launch and measures
 * them (issue 7). Everything else in the tables is a constant of the platform (table base, PM
 * block, legacy devices, IOAPIC/LAPIC addresses), so two equal records give equal bytes.
 *
 * <p>Attached PCI devices are not in the tables: the guest enumerates them through ECAM, and
 * the DSDT only describes the host bridge, its windows and the INTx routing of every slot.
 *
 * @param cpuApicIds one entry per vCPU, in vCPU order: its APIC ID
 * @param pci        PCI segment 0 as the tables describe it
 */
public record GuestPlatform(List<Integer> cpuApicIds, PciHostBridge pci) {
    /** The RSDP at 0xE0000 (the BIOS-area scan finds it without boot_params.acpi_rsdp_addr). */
    public static final long TABLE_BASE = 0xE0000L;
    /** The tables must end below 1 MiB, where guest RAM (and the kernel) starts. */
    public static final long TABLE_END = 0x10_0000L;
    /** RAM above this address is moved above 4 GiB (the 32-bit PCI/APIC hole). */
    public static final long MMIO_HOLE_START = 0xC000_0000L;
    public static final long MMIO_HOLE_END = 1L << 32;

    public GuestPlatform {
        cpuApicIds = List.copyOf(cpuApicIds);
        if (pci == null) {
            throw new IllegalArgumentException("no PCI host bridge");
        }
    }

    /**
     * The platform of a guest with {@code vcpus} vCPUs (APIC IDs 0..n-1, as the hypervisor's
     * CPUID topology numbers them) and {@code memoryBytes} of RAM (the part above
     * {@link #MMIO_HOLE_START} is placed above 4 GiB, which moves the 64-bit PCI window).
     */
    public static GuestPlatform forGuest(int vcpus, long memoryBytes) {
        if (vcpus < 1) {
            throw new IllegalArgumentException("need at least one vCPU: " + vcpus);
        }
        if (memoryBytes <= 0) {
            throw new IllegalArgumentException("need some memory: " + memoryBytes);
        }
        return new GuestPlatform(IntStream.range(0, vcpus).boxed().toList(), PciHostBridge.forRamEnd(ramEnd(memoryBytes)));
    }

    /** First guest-physical address above RAM: the hole is always skipped, so at least 4 GiB. */
    public static long ramEnd(long memoryBytes) {
        return MMIO_HOLE_END + Math.max(0, memoryBytes - MMIO_HOLE_START);
    }

    /** The tables' configuration (exposed for tests and tools; {@link #tables()} is what runs). */
    public AcpiConfig config() {
        return AcpiConfig.defaults(cpuApicIds.size()).withCpuApicIds(cpuApicIds).withTableBase(TABLE_BASE)
                .withDsdtSources(List.of(PmBlock.S5, pci.aml()));
    }

    /** RSDP, RSDT, XSDT, FADT, FACS, MADT, DSDT and MCFG, at their guest-physical addresses. */
    public AcpiBlob tables() {
        AcpiBlob blob = AcpiTables.build(config(), List.of(pci.mcfg()));
        if (blob.endAddress() > TABLE_END) {
            throw new IllegalArgumentException("ACPI tables for " + cpuApicIds.size() + " vCPUs end at 0x"
                    + Long.toHexString(blob.endAddress()) + ", above 1 MiB");
        }
        return blob;
    }
}
