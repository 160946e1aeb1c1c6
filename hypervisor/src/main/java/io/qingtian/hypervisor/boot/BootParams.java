package io.qingtian.hypervisor.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * struct boot_params, the "zero page" (arch/x86/include/uapi/asm/bootparam.h,
 * Documentation/arch/x86/zero-page.rst): the setup header copied from the bzImage, the
 * fields a boot loader must fill in, and the e820 map.
 */
public final class BootParams {
    public static final int SIZE = 4096;
    static final int ACPI_RSDP_ADDR = 0x070;
    static final int EXT_RAMDISK_IMAGE = 0x0c0;
    static final int EXT_RAMDISK_SIZE = 0x0c4;
    static final int EXT_CMD_LINE_PTR = 0x0c8;
    static final int E820_ENTRIES = 0x1e8;
    static final int VID_MODE = 0x1fa;
    static final int HEAP_END_PTR = 0x224;
    static final int E820_TABLE = 0x2d0;
    static final int E820_ENTRY_SIZE = 20;
    /** E820_MAX_ENTRIES_ZEROPAGE. */
    public static final int E820_MAX = 128;
    /** type_of_loader 0xff: "undefined" boot loader (boot.rst, "type_of_loader"). */
    static final int LOADER_UNDEFINED = 0xff;
    /** vid_mode 0xffff: "normal" VGA mode, i.e. do not ask. */
    static final int VID_MODE_NORMAL = 0xffff;

    private BootParams() {}

    /**
     * Builds the zero page.
     *
     * @param ramdiskAddr guest address of the initramfs, or 0 with {@code ramdiskSize} 0
     * @param rsdpAddr    guest address of the ACPI RSDP, or 0 to let the kernel scan for it
     */
    public static byte[] build(SetupHeader hdr, long cmdlineAddr, long ramdiskAddr, long ramdiskSize,
                               List<E820Entry> e820, long rsdpAddr) {
        if (e820.size() > E820_MAX) {
            throw new IllegalArgumentException("too many e820 entries: " + e820.size());
        }
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SetupHeader.OFFSET, hdr.raw());
        b.putShort(VID_MODE, (short) VID_MODE_NORMAL);
        b.put(SetupHeader.TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        // The 64-bit entry never runs the real-mode setup code, so there is no heap to announce.
        b.put(SetupHeader.LOADFLAGS, (byte) (hdr.loadflags() & ~SetupHeader.CAN_USE_HEAP));
        b.putShort(HEAP_END_PTR, (short) 0);
        b.putInt(SetupHeader.CMD_LINE_PTR, (int) cmdlineAddr);
        b.putInt(EXT_CMD_LINE_PTR, (int) (cmdlineAddr >>> 32));
        b.putInt(SetupHeader.RAMDISK_IMAGE, (int) ramdiskAddr);
        b.putInt(EXT_RAMDISK_IMAGE, (int) (ramdiskAddr >>> 32));
        b.putInt(SetupHeader.RAMDISK_SIZE, (int) ramdiskSize);
        b.putInt(EXT_RAMDISK_SIZE, (int) (ramdiskSize >>> 32));
        b.putLong(ACPI_RSDP_ADDR, rsdpAddr);
        b.put(E820_ENTRIES, (byte) e820.size());
        for (int i = 0; i < e820.size(); i++) {
            E820Entry e = e820.get(i);
            int o = E820_TABLE + i * E820_ENTRY_SIZE;
            b.putLong(o, e.addr());
            b.putLong(o + 8, e.size());
            b.putInt(o + 16, e.type());
        }
        return b.array();
    }
}
