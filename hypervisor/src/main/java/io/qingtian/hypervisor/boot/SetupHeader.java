package io.qingtian.hypervisor.boot;

import io.qingtian.sys.UserError;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The real-mode setup header of a bzImage (Documentation/arch/x86/boot.rst, "The Real-Mode
 * Kernel Header"), at file offset 0x1f1. Offsets below are absolute (file = boot_params).
 *
 * @param raw the header bytes from 0x1f1 to the end the kernel declares (0x202 + byte at 0x201),
 *            copied verbatim into boot_params.hdr
 */
public record SetupHeader(int setupSects, int version, int loadflags, long initrdAddrMax, long kernelAlignment,
                          boolean relocatable, int xloadflags, long cmdlineSize, long prefAddress, long initSize,
                          byte[] raw) {
    public static final int OFFSET = 0x1f1;
    static final int SETUP_SECTS = 0x1f1;
    static final int BOOT_FLAG = 0x1fe;
    static final int JUMP = 0x200;
    static final int HEADER = 0x202;
    static final int VERSION = 0x206;
    static final int TYPE_OF_LOADER = 0x210;
    static final int LOADFLAGS = 0x211;
    static final int RAMDISK_IMAGE = 0x218;
    static final int RAMDISK_SIZE = 0x21c;
    static final int CMD_LINE_PTR = 0x228;
    static final int INITRD_ADDR_MAX = 0x22c;
    static final int KERNEL_ALIGNMENT = 0x230;
    static final int RELOCATABLE_KERNEL = 0x234;
    static final int XLOADFLAGS = 0x236;
    static final int CMDLINE_SIZE = 0x238;
    static final int PREF_ADDRESS = 0x258;
    static final int INIT_SIZE = 0x260;

    /** "HdrS". */
    public static final int MAGIC = 0x53726448;
    public static final int BOOT_FLAG_MAGIC = 0xaa55;
    /** Boot protocol 2.12 introduced XLF_KERNEL_64 (the 64-bit entry at load address + 0x200). */
    public static final int MIN_VERSION = 0x020c;
    /** loadflags bit 0: the protected-mode code is loaded at 0x100000 or above (a bzImage). */
    public static final int LOADED_HIGH = 0x01;
    public static final int CAN_USE_HEAP = 0x80;
    /** xloadflags bit 0: the kernel has the 64-bit entry point at offset 0x200. */
    public static final int XLF_KERNEL_64 = 0x01;
    /** End of boot_params.hdr (start of edd_mbr_sig_buffer). */
    static final int HDR_LIMIT = 0x290;
    /** Bytes of the file the header needs (through init_size). */
    static final int MIN_FILE = INIT_SIZE + 4;

    /**
     * Parses and checks the header from the first bytes of {@code file}; {@code what} names the
     * file in error messages. Every failure is a {@link UserError} (a corrupt or unsupported
     * kernel is the user's input).
     */
    public static SetupHeader parse(ByteBuffer head, String what) {
        ByteBuffer b = head.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.limit() < MIN_FILE) {
            throw new UserError(what + " is too small to be a Linux kernel (" + b.limit() + " bytes)");
        }
        if (b.getInt(HEADER) != MAGIC) {
            throw new UserError(what + " is not a bzImage (no \"HdrS\" boot header) nor an ELF vmlinux");
        }
        if (Short.toUnsignedInt(b.getShort(BOOT_FLAG)) != BOOT_FLAG_MAGIC) {
            throw new UserError(what + " is corrupt: boot flag is not 0xAA55");
        }
        int version = Short.toUnsignedInt(b.getShort(VERSION));
        if (version < MIN_VERSION) {
            throw new UserError(String.format("%s uses boot protocol %d.%02d; the 64-bit entry needs 2.12 or newer",
                    what, version >> 8, version & 0xff));
        }
        int loadflags = Byte.toUnsignedInt(b.get(LOADFLAGS));
        if ((loadflags & LOADED_HIGH) == 0) {
            throw new UserError(what + " is a zImage (loaded low); only bzImage is supported");
        }
        int xloadflags = Short.toUnsignedInt(b.getShort(XLOADFLAGS));
        if ((xloadflags & XLF_KERNEL_64) == 0) {
            throw new UserError(what + " has no 64-bit entry point (XLF_KERNEL_64 unset): a 32-bit kernel?");
        }
        int setupSects = Byte.toUnsignedInt(b.get(SETUP_SECTS));
        if (setupSects == 0) {
            setupSects = 4; // boot.rst: "If this field is 0, the real value is 4."
        }
        int end = HEADER + Byte.toUnsignedInt(b.get(JUMP + 1));
        if (end < INIT_SIZE + 4) {
            throw new UserError(what + " is corrupt: setup header length " + (end - OFFSET) + " is out of range");
        }
        // boot_params.hdr ends where edd_mbr_sig_buffer starts (0x290); anything beyond is not ours to copy.
        end = Math.min(Math.min(end, HDR_LIMIT), b.limit());
        byte[] raw = new byte[end - OFFSET];
        b.get(OFFSET, raw);
        long cmdlineSize = Integer.toUnsignedLong(b.getInt(CMDLINE_SIZE));
        long align = Integer.toUnsignedLong(b.getInt(KERNEL_ALIGNMENT));
        return new SetupHeader(setupSects, version, loadflags, Integer.toUnsignedLong(b.getInt(INITRD_ADDR_MAX)),
                align, b.get(RELOCATABLE_KERNEL) != 0, xloadflags, cmdlineSize, b.getLong(PREF_ADDRESS),
                Integer.toUnsignedLong(b.getInt(INIT_SIZE)), raw);
    }

    /** File offset of the protected-mode kernel: after the boot sector and the setup sectors. */
    public long kernelOffset() {
        return (setupSects + 1L) * 512;
    }

    public String versionString() {
        return String.format("%d.%02d", version >> 8, version & 0xff);
    }
}
