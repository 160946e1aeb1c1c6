package io.qingtian.hypervisor.boot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * struct hvm_start_info (version 1) with its module list and memory map
 * (xen/include/public/arch-x86/hvm/start_info.h): what a PVH entry point finds in %ebx.
 */
public final class PvhStartInfo {
    public static final int MAGIC = 0x336ec578;
    public static final int SIZE = 56;
    public static final int MODLIST_ENTRY_SIZE = 32;
    public static final int MEMMAP_ENTRY_SIZE = 24;

    private PvhStartInfo() {}

    /** The start info itself; {@code nrModules} is 0 or 1 (the initramfs). */
    public static byte[] startInfo(long cmdlineAddr, int nrModules, long modlistAddr, long rsdpAddr,
                                   long memmapAddr, int memmapEntries) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, MAGIC);
        b.putInt(4, 1); // version
        b.putInt(8, 0); // flags
        b.putInt(12, nrModules);
        b.putLong(16, nrModules > 0 ? modlistAddr : 0);
        b.putLong(24, cmdlineAddr);
        b.putLong(32, rsdpAddr);
        b.putLong(40, memmapAddr);
        b.putInt(48, memmapEntries);
        return b.array();
    }

    /** One struct hvm_modlist_entry. */
    public static byte[] module(long paddr, long size) {
        ByteBuffer b = ByteBuffer.allocate(MODLIST_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, paddr);
        b.putLong(8, size);
        return b.array();
    }

    /** The struct hvm_memmap_table_entry array. */
    public static byte[] memmap(List<E820Entry> map) {
        ByteBuffer b = ByteBuffer.allocate(map.size() * MEMMAP_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < map.size(); i++) {
            E820Entry e = map.get(i);
            b.putLong(i * MEMMAP_ENTRY_SIZE, e.addr());
            b.putLong(i * MEMMAP_ENTRY_SIZE + 8, e.size());
            b.putInt(i * MEMMAP_ENTRY_SIZE + 16, e.type());
        }
        return b.array();
    }
}
