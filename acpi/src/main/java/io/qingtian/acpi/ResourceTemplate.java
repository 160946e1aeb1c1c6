package io.qingtian.acpi;

import java.io.ByteArrayOutputStream;

/**
 * Builds a ResourceTemplate: a Buffer of resource descriptors closed by an End Tag
 * (ACPI 6.4 section 6.4, "Resource Data Types for ACPI"). Used for _CRS, _PRS.
 *
 * <p>Small descriptors (6.4.2) have a one-byte header {@code 0 tttt lll}; large
 * descriptors (6.4.3) a byte {@code 1 ttttttt} and a 16-bit length. Not thread-safe.
 */
public final class ResourceTemplate {
    // Small resource items (tag byte = type << 3 | length).
    private static final int IRQ_NO_FLAGS = 0x22; // type 0x04, length 2
    private static final int IRQ_WITH_FLAGS = 0x23; // type 0x04, length 3
    private static final int IO_PORT = 0x47; // type 0x08, length 7
    private static final int FIXED_IO_PORT = 0x4B; // type 0x09, length 3
    private static final int END_TAG = 0x79; // type 0x0F, length 1
    // Large resource items.
    private static final int MEMORY32_FIXED = 0x86;
    private static final int DWORD_ADDRESS_SPACE = 0x87;
    private static final int WORD_ADDRESS_SPACE = 0x88;
    private static final int EXTENDED_IRQ = 0x89;
    private static final int QWORD_ADDRESS_SPACE = 0x8A;

    // Address space resource types (6.4.3.5 Table 6.43, byte 3).
    private static final int TYPE_MEMORY = 0;
    private static final int TYPE_IO = 1;
    private static final int TYPE_BUS_NUMBER = 2;
    // General flags (byte 4): bit 2 MinFixed, bit 3 MaxFixed; bit 0 = 0 producer, 1 consumer.
    private static final int MIN_MAX_FIXED = 0x0C;

    /** Cacheability of a memory range (6.4.3.5.1 Memory Resource Flag, bits 1-2). */
    public enum Cacheable {
        NON_CACHEABLE(0), CACHEABLE(1), WRITE_COMBINING(2), PREFETCHABLE(3);

        final int code;

        Cacheable(int code) {
            this.code = code;
        }
    }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /**
     * IO Port Descriptor (6.4.2.5), 16-bit decode: {@code IO (Decode16, min, max, align, len)}.
     */
    public ResourceTemplate io(int min, int max, int alignment, int length) {
        check(min, 0xFFFF, "IO min");
        check(max, 0xFFFF, "IO max");
        check(alignment, 0xFF, "IO alignment");
        check(length, 0xFF, "IO length");
        out.write(IO_PORT);
        out.write(1); // Decode16: the device decodes all 16 address bits
        le(min, 2);
        le(max, 2);
        out.write(alignment);
        out.write(length);
        return this;
    }

    /** Fixed Location IO Port Descriptor (6.4.2.6): 10-bit decode. */
    public ResourceTemplate fixedIo(int base, int length) {
        check(base, 0x3FF, "FixedIO base");
        check(length, 0xFF, "FixedIO length");
        out.write(FIXED_IO_PORT);
        le(base, 2);
        out.write(length);
        return this;
    }

    /**
     * IRQ Descriptor without flags (6.4.2.1): {@code IRQNoFlags () {irq}}, which means an
     * edge-triggered, active-high, exclusive ISA interrupt.
     */
    public ResourceTemplate irqNoFlags(int... irqs) {
        out.write(IRQ_NO_FLAGS);
        le(irqMask(irqs), 2);
        return this;
    }

    /**
     * IRQ Descriptor with flags (6.4.2.1): {@code IRQ (Edge|Level, ActiveHigh|ActiveLow,
     * Exclusive|Shared) {irq}}.
     */
    public ResourceTemplate irq(boolean edge, boolean activeLow, boolean shared, int... irqs) {
        out.write(IRQ_WITH_FLAGS);
        le(irqMask(irqs), 2);
        out.write((edge ? 0x01 : 0) | (activeLow ? 0x08 : 0) | (shared ? 0x10 : 0));
        return this;
    }

    private static int irqMask(int... irqs) {
        int mask = 0;
        for (int irq : irqs) {
            check(irq, 15, "ISA IRQ");
            mask |= 1 << irq;
        }
        return mask;
    }

    /**
     * Extended Interrupt Descriptor (6.4.3.6): {@code Interrupt (ResourceConsumer|Producer,
     * Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) {gsi...}}.
     */
    public ResourceTemplate interrupt(boolean consumer, boolean edge, boolean activeLow, boolean shared,
            long... gsis) {
        if (gsis.length == 0 || gsis.length > 255) {
            throw new IllegalArgumentException("Interrupt descriptor needs 1-255 interrupts");
        }
        out.write(EXTENDED_IRQ);
        le(2 + 4 * gsis.length, 2);
        out.write((consumer ? 0x01 : 0) | (edge ? 0x02 : 0) | (activeLow ? 0x04 : 0) | (shared ? 0x08 : 0));
        out.write(gsis.length);
        for (long gsi : gsis) {
            check(gsi, 0xFFFF_FFFFL, "GSI");
            le(gsi, 4);
        }
        return this;
    }

    /** 32-bit Fixed Memory Range Descriptor (6.4.3.4). */
    public ResourceTemplate memory32Fixed(boolean readWrite, long base, long length) {
        check(base, 0xFFFF_FFFFL, "Memory32Fixed base");
        check(length, 0xFFFF_FFFFL, "Memory32Fixed length");
        out.write(MEMORY32_FIXED);
        le(9, 2);
        out.write(readWrite ? 1 : 0);
        le(base, 4);
        le(length, 4);
        return this;
    }

    /** WordBusNumber (6.4.3.5.3, type 2), producer, fixed min and max. */
    public ResourceTemplate wordBusNumber(int min, int max) {
        addressSpace(WORD_ADDRESS_SPACE, 2, TYPE_BUS_NUMBER, 0, min, max);
        return this;
    }

    /** WordIO (6.4.3.5.3, type 1), producer, fixed min and max, EntireRange. */
    public ResourceTemplate wordIo(int min, int max) {
        addressSpace(WORD_ADDRESS_SPACE, 2, TYPE_IO, 0x03, min, max);
        return this;
    }

    /** DWordIO (6.4.3.5.2, type 1), producer, fixed min and max, EntireRange. */
    public ResourceTemplate dwordIo(long min, long max) {
        addressSpace(DWORD_ADDRESS_SPACE, 4, TYPE_IO, 0x03, min, max);
        return this;
    }

    /** DWordMemory (6.4.3.5.2, type 0), producer, fixed min and max. */
    public ResourceTemplate dwordMemory(Cacheable cacheable, boolean readWrite, long min, long max) {
        addressSpace(DWORD_ADDRESS_SPACE, 4, TYPE_MEMORY, (cacheable.code << 1) | (readWrite ? 1 : 0), min, max);
        return this;
    }

    /** QWordMemory (6.4.3.5.1, type 0), producer, fixed min and max. */
    public ResourceTemplate qwordMemory(Cacheable cacheable, boolean readWrite, long min, long max) {
        addressSpace(QWORD_ADDRESS_SPACE, 8, TYPE_MEMORY, (cacheable.code << 1) | (readWrite ? 1 : 0), min, max);
        return this;
    }

    /**
     * Word/DWord/QWord Address Space Descriptor: tag, length, resource type, general
     * flags, type-specific flags, then Granularity, Min, Max, Translation, Length.
     */
    private void addressSpace(int tag, int width, int type, int typeFlags, long min, long max) {
        long limit = width == 8 ? -1L : (1L << (8 * width)) - 1;
        if (width < 8) {
            check(min, limit, "range minimum");
            check(max, limit, "range maximum");
        }
        if (Long.compareUnsigned(max, min) < 0) {
            throw new IllegalArgumentException("range maximum below minimum");
        }
        out.write(tag);
        le(3 + 5 * width, 2);
        out.write(type);
        out.write(MIN_MAX_FIXED);
        out.write(typeFlags);
        le(0, width); // granularity (0: the range is not relocatable)
        le(min, width);
        le(max, width);
        le(0, width); // translation offset
        le(max - min + 1, width);
    }

    /**
     * The template as a Buffer term. The End Tag's checksum byte is zero, which the spec
     * defines as "treat as if the checksum succeeded" (6.4.2.9) and which is what iasl
     * itself emits.
     */
    public Aml toAml() {
        return toAml(false);
    }

    /**
     * As {@link #toAml()}; with {@code checksum} the End Tag carries a real checksum that
     * makes all resource bytes sum to zero.
     */
    public Aml toAml(boolean checksum) {
        return Aml.buffer(toDescriptorBytes(checksum));
    }

    /** The raw descriptor list including the End Tag (the Buffer's contents). */
    public byte[] toDescriptorBytes(boolean checksum) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(out.toByteArray());
        b.write(END_TAG);
        if (checksum) {
            int sum = 0;
            for (byte x : b.toByteArray()) {
                sum += x & 0xFF;
            }
            b.write((-sum) & 0xFF);
        } else {
            b.write(0);
        }
        return b.toByteArray();
    }

    private void le(long v, int n) {
        for (int i = 0; i < n; i++) {
            out.write((int) (v >>> (8 * i)) & 0xFF);
        }
    }

    private static void check(long v, long max, String what) {
        if (v < 0 || v > max) {
            throw new IllegalArgumentException(what + " out of range: 0x" + Long.toHexString(v));
        }
    }
}
