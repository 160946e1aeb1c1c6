package io.qingtian.acpi;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What the ACPI tables describe. Start from {@link #defaults(int)} and adjust with the
 * {@code with...} methods; the constructor validates everything once.
 *
 * @param cpuApicIds       one entry per vCPU, in vCPU order; the index is the ACPI
 *                         Processor UID, the value the vCPU's (x2)APIC ID
 * @param ioApicId         the IOAPIC's ID in the MADT
 * @param ioApicAddress    the IOAPIC's MMIO base (0xFEC00000 with KVM's in-kernel irqchip)
 * @param ioApicGsiBase    the first GSI the IOAPIC serves (0: pins 0-23 are GSIs 0-23)
 * @param localApicAddress the LAPIC MMIO base (0xFEE00000)
 * @param pmPortBase       I/O port of the {@link PmBlock} block (PM1a_EVT, PM1a_CNT, PM_TMR)
 * @param resetPort        I/O port of the FADT RESET_REG
 * @param resetValue       the byte that, written to {@code resetPort}, resets the machine
 * @param tableBase        guest-physical address of the RSDP; the other tables follow it.
 *                         0xE0000 puts them where Linux's BIOS-area scan finds the RSDP
 *                         even without boot_params.acpi_rsdp_addr
 * @param dsdtSources      components that append their own AML to the DSDT (the PM block
 *                         for \_S5_, the PCI host bridge for \_SB_.PCI0, ...)
 * @param describeCom1     describe COM1 (PNP0501, 0x3F8-0x3FF, IRQ 4) in the DSDT
 * @param describeRtc      describe the CMOS RTC (PNP0B00, 0x70-0x71, IRQ 8) in the DSDT
 * @param describeI8042    describe the keyboard controller (PNP0303, 0x60/0x64, IRQ 1) in
 *                         the DSDT and set the FADT's 8042 flag; without it Linux's i8042
 *                         driver does not probe at all (the reset port still works)
 * @param describeCpus     declare one ACPI0007 processor device per vCPU in the DSDT
 * @param powerButton      advertise a fixed-hardware power button (FADT PWR_BUTTON clear);
 *                         only meaningful when the PM block has an SCI line
 */
public record AcpiConfig(
        List<Integer> cpuApicIds,
        int ioApicId,
        long ioApicAddress,
        int ioApicGsiBase,
        long localApicAddress,
        int pmPortBase,
        int resetPort,
        int resetValue,
        long tableBase,
        List<AmlSource> dsdtSources,
        boolean describeCom1,
        boolean describeRtc,
        boolean describeI8042,
        boolean describeCpus,
        boolean powerButton) {

    public static final long DEFAULT_TABLE_BASE = 0xE0000L;
    public static final long DEFAULT_IOAPIC_ADDRESS = 0xFEC0_0000L;
    public static final long DEFAULT_LAPIC_ADDRESS = 0xFEE0_0000L;
    /** The SCI is ISA IRQ 9, level-triggered active-high (MADT override), as on PCs. */
    public static final int SCI_IRQ = 9;
    /** CPU devices are named C000-CFFF in the DSDT. */
    public static final int MAX_CPUS = 4096;

    public AcpiConfig {
        cpuApicIds = List.copyOf(cpuApicIds);
        dsdtSources = List.copyOf(dsdtSources);
        if (cpuApicIds.isEmpty()) {
            throw new IllegalArgumentException("ACPI tables need at least one CPU");
        }
        if (cpuApicIds.size() > MAX_CPUS) {
            throw new IllegalArgumentException("at most " + MAX_CPUS + " CPUs: " + cpuApicIds.size());
        }
        Set<Integer> seen = new HashSet<>();
        for (int id : cpuApicIds) {
            if (id < 0 || !seen.add(id)) {
                throw new IllegalArgumentException("APIC IDs must be distinct and non-negative: " + cpuApicIds);
            }
        }
        if (ioApicId < 0 || ioApicId > 0xFF) {
            throw new IllegalArgumentException("IOAPIC id out of range: " + ioApicId);
        }
        requirePort(pmPortBase + PmBlock.PORT_LENGTH - 1, "PM block");
        requirePort(pmPortBase, "PM block");
        requirePort(resetPort, "reset register");
        if (resetValue < 0 || resetValue > 0xFF) {
            throw new IllegalArgumentException("reset value must be a byte: " + resetValue);
        }
        require32(ioApicAddress, "IOAPIC address");
        require32(localApicAddress, "LAPIC address");
        if (ioApicGsiBase < 0) {
            throw new IllegalArgumentException("negative GSI base");
        }
        if (tableBase <= 0 || (tableBase & 0xF) != 0 || tableBase >= 0xFFFF_0000L) {
            throw new IllegalArgumentException("table base must be 16-byte aligned and below 4 GiB: 0x"
                    + Long.toHexString(tableBase));
        }
    }

    /**
     * {@code cpus} vCPUs with APIC IDs 0..cpus-1, the IOAPIC (ID 0, as KVM's in-kernel
     * IOAPIC resets to) at 0xFEC00000 serving GSIs 0-23, the {@link PmBlock} block at its
     * default ports, tables at 0xE0000, COM1/RTC/i8042/CPUs described.
     */
    public static AcpiConfig defaults(int cpus) {
        if (cpus < 1) {
            throw new IllegalArgumentException("need at least one CPU: " + cpus);
        }
        List<Integer> ids = java.util.stream.IntStream.range(0, cpus).boxed().toList();
        return new AcpiConfig(ids, 0, DEFAULT_IOAPIC_ADDRESS, 0, DEFAULT_LAPIC_ADDRESS,
                PmBlock.PORT_BASE, PmBlock.PORT_BASE + PmBlock.RESET_REG_OFFSET, PmBlock.RESET_VALUE,
                DEFAULT_TABLE_BASE, List.of(), true, true, true, true, false);
    }

    public int cpus() {
        return cpuApicIds.size();
    }

    public AcpiConfig withCpuApicIds(List<Integer> ids) {
        return new AcpiConfig(ids, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, tableBase, dsdtSources, describeCom1, describeRtc, describeI8042,
                describeCpus, powerButton);
    }

    public AcpiConfig withDsdtSources(List<AmlSource> sources) {
        return new AcpiConfig(cpuApicIds, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, tableBase, sources, describeCom1, describeRtc, describeI8042,
                describeCpus, powerButton);
    }

    public AcpiConfig withTableBase(long base) {
        return new AcpiConfig(cpuApicIds, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, base, dsdtSources, describeCom1, describeRtc, describeI8042,
                describeCpus, powerButton);
    }

    public AcpiConfig withIoApic(int id, long address, int gsiBase) {
        return new AcpiConfig(cpuApicIds, id, address, gsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, tableBase, dsdtSources, describeCom1, describeRtc, describeI8042,
                describeCpus, powerButton);
    }

    public AcpiConfig withPmPorts(int pmBase, int resetPortNumber, int resetByte) {
        return new AcpiConfig(cpuApicIds, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmBase,
                resetPortNumber, resetByte, tableBase, dsdtSources, describeCom1, describeRtc, describeI8042,
                describeCpus, powerButton);
    }

    public AcpiConfig withLegacyDevices(boolean com1, boolean rtc, boolean i8042) {
        return new AcpiConfig(cpuApicIds, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, tableBase, dsdtSources, com1, rtc, i8042, describeCpus, powerButton);
    }

    public AcpiConfig withDescribeCpus(boolean cpusInDsdt) {
        return new AcpiConfig(cpuApicIds, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, tableBase, dsdtSources, describeCom1, describeRtc, describeI8042,
                cpusInDsdt, powerButton);
    }

    public AcpiConfig withPowerButton(boolean fixedPowerButton) {
        return new AcpiConfig(cpuApicIds, ioApicId, ioApicAddress, ioApicGsiBase, localApicAddress, pmPortBase,
                resetPort, resetValue, tableBase, dsdtSources, describeCom1, describeRtc, describeI8042,
                describeCpus, fixedPowerButton);
    }

    private static void requirePort(int port, String what) {
        if (port < 0 || port > 0xFFFF) {
            throw new IllegalArgumentException(what + " port out of range: " + port);
        }
    }

    private static void require32(long addr, String what) {
        if (addr <= 0 || addr > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(what + " must be a 32-bit address: 0x" + Long.toHexString(addr));
        }
    }
}
