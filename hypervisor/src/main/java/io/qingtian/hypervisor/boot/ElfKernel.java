package io.qingtian.hypervisor.boot;

import io.qingtian.sys.UserError;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * An ELF64 vmlinux with a PVH entry point: the loadable segments (at their physical
 * addresses) and the 32-bit entry from the {@code XEN_ELFNOTE_PHYS32_ENTRY} note
 * (System V gABI "ELF header", "Program header", "Note section"; Linux arch/x86/platform/pvh/head.S).
 */
public record ElfKernel(long entry, List<Segment> segments) {
    /** A PT_LOAD segment: {@code fileSize} bytes from {@code fileOffset} to {@code paddr}, zero up to {@code memSize}. */
    public record Segment(long fileOffset, long paddr, long fileSize, long memSize) {}

    static final int EM_X86_64 = 62;
    static final int PT_LOAD = 1;
    static final int PT_NOTE = 4;
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    static final int MAX_PHDRS = 64;

    static boolean isElf(ByteBuffer head) {
        return head.limit() >= 4 && head.get(0) == 0x7f && head.get(1) == 'E' && head.get(2) == 'L' && head.get(3) == 'F';
    }

    /** Reads the headers of {@code f}; every inconsistency is a {@link UserError}. */
    static ElfKernel parse(KernelFile f) {
        String what = "kernel " + f.path();
        ByteBuffer h = f.read(0, 64);
        if (h.limit() < 64 || !isElf(h)) {
            throw new UserError(what + " is not an ELF file");
        }
        if (h.get(4) != 2 || h.get(5) != 1) {
            throw new UserError(what + " is not a little-endian 64-bit ELF");
        }
        if (Short.toUnsignedInt(h.getShort(18)) != EM_X86_64) {
            throw new UserError(what + " is not an x86_64 ELF");
        }
        long phoff = h.getLong(32);
        int phentsize = Short.toUnsignedInt(h.getShort(54));
        int phnum = Short.toUnsignedInt(h.getShort(56));
        if (phentsize < 56 || phnum == 0 || phnum > MAX_PHDRS || phoff < 0 || phoff + (long) phentsize * phnum > f.size()) {
            throw new UserError(what + " has corrupt program headers");
        }
        ByteBuffer ph = f.read(phoff, phentsize * phnum);
        List<Segment> segments = new ArrayList<>();
        Long entry = null;
        for (int i = 0; i < phnum; i++) {
            int o = i * phentsize;
            int type = ph.getInt(o);
            long offset = ph.getLong(o + 8);
            long paddr = ph.getLong(o + 24);
            long filesz = ph.getLong(o + 32);
            long memsz = ph.getLong(o + 40);
            if (offset < 0 || filesz < 0 || offset + filesz > f.size() || offset + filesz < offset) {
                throw new UserError(what + " is truncated or corrupt (segment " + i + " runs past the file)");
            }
            if (type == PT_LOAD) {
                if (memsz < filesz || paddr < 0) {
                    throw new UserError(what + " has a corrupt load segment " + i);
                }
                segments.add(new Segment(offset, paddr, filesz, memsz));
            } else if (type == PT_NOTE && entry == null && filesz <= 1 << 20) {
                entry = pvhEntry(f.read(offset, (int) filesz));
            }
        }
        if (entry == null) {
            throw new UserError(what + " is an ELF without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); "
                    + "build the kernel with CONFIG_PVH=y or boot its bzImage");
        }
        if (segments.isEmpty()) {
            throw new UserError(what + " has no loadable segments");
        }
        return new ElfKernel(entry, List.copyOf(segments));
    }

    /** Walks the notes (namesz, descsz, type, name, desc; each 4-aligned) for Xen's PHYS32_ENTRY. */
    static Long pvhEntry(ByteBuffer notes) {
        int p = 0;
        while (p + 12 <= notes.limit()) {
            long namesz = Integer.toUnsignedLong(notes.getInt(p));
            long descsz = Integer.toUnsignedLong(notes.getInt(p + 4));
            int type = notes.getInt(p + 8);
            long name = p + 12L;
            long desc = name + align4(namesz);
            long next = desc + align4(descsz);
            if (next > notes.limit()) {
                return null;
            }
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && notes.get((int) name) == 'X'
                    && notes.get((int) name + 1) == 'e' && notes.get((int) name + 2) == 'n' && descsz >= 4) {
                // Linux emits a pointer-sized value; the entry is a 32-bit physical address.
                return Integer.toUnsignedLong(notes.getInt((int) desc));
            }
            p = (int) next;
        }
        return null;
    }

    private static long align4(long n) {
        return (n + 3) & ~3L;
    }
}
