package io.qingtian.acpi;

/**
 * The PCI Express memory-mapped configuration table "MCFG" (PCI Firmware Specification 3.2
 * §4.1.2): after the standard header, 8 reserved bytes, then one 16-byte allocation per
 * ECAM window — base address (u64), PCI segment (u16), start bus, end bus, 4 reserved.
 */
public final class Mcfg {
    private Mcfg() {}

    /** One ECAM window covering buses {@code startBus..endBus} of {@code segment}. */
    public static byte[] build(long ecamBase, int segment, int startBus, int endBus) {
        if ((ecamBase & 0xfffff) != 0) {
            throw new IllegalArgumentException("ECAM base must be 1 MiB aligned: 0x" + Long.toHexString(ecamBase));
        }
        if (startBus < 0 || endBus > 255 || endBus < startBus) {
            throw new IllegalArgumentException("bad bus range " + startBus + "-" + endBus);
        }
        return new Sdt("MCFG", 1)
                .zeros(8)
                .u64(ecamBase)
                .u16(segment)
                .u8(startBus)
                .u8(endBus)
                .zeros(4)
                .finish();
    }
}
