package io.qingtian.hypervisor.boot;

import io.qingtian.hypervisor.x86.X86Layout;
import java.util.ArrayList;
import java.util.List;

/**
 * One entry of the BIOS e820 memory map (ACPI spec 6.5, 15 "System Address Map Interfaces"),
 * as the kernel receives it in boot_params.e820_table or hvm_start_info's memmap.
 */
public record E820Entry(long addr, long size, int type) {
    public static final int RAM = 1;
    public static final int RESERVED = 2;
    public static final int ACPI = 3;

    public long end() {
        return addr + size;
    }

    /**
     * The map for {@code lowBytes} of RAM at 0 and {@code highBytes} at 4 GiB: conventional
     * memory up to the EBDA, the legacy area 0xA0000-0xFFFFF left out except the ACPI tables
     * (reserved), RAM from 1 MiB to the end of low memory, then the RAM above the 32-bit hole.
     */
    public static List<E820Entry> forRam(long lowBytes, long highBytes) {
        if (lowBytes <= X86Layout.HIGH_RAM_START) {
            throw new IllegalArgumentException("guest RAM must extend past 1 MiB");
        }
        List<E820Entry> map = new ArrayList<>();
        map.add(new E820Entry(0, X86Layout.EBDA_START, RAM));
        map.add(new E820Entry(X86Layout.ACPI_START, X86Layout.ACPI_END - X86Layout.ACPI_START, RESERVED));
        map.add(new E820Entry(X86Layout.HIGH_RAM_START, lowBytes - X86Layout.HIGH_RAM_START, RAM));
        if (highBytes > 0) {
            map.add(new E820Entry(X86Layout.MMIO_HOLE_END, highBytes, RAM));
        }
        return List.copyOf(map);
    }
}
