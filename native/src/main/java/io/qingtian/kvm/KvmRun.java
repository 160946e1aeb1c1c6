package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/**
 * The vCPU's mmap'd {@code struct kvm_run}: after KVM_RUN returns, {@link #exitReason()}
 * says why, and the exit-specific fields live in the union at {@link #UNION}. Accessors read
 * the shared page directly (no copies, no allocation) so the exit loop stays allocation-free.
 *
 * <p>For KVM_EXIT_IO the data bytes are inside this same mapping at {@code io.data_offset};
 * for an IN the VMM writes the value there before the next KVM_RUN, for MMIO reads into
 * {@code mmio.data}.
 */
public final class KvmRun {
    /** Offset of the exit-reason union inside struct kvm_run. */
    public static final long UNION = KvmLayouts.RUN_HEAD.byteSize();
    private static final long EXIT_REASON = KvmLayouts.offset(KvmLayouts.RUN_HEAD, "exit_reason");
    private static final long IMMEDIATE_EXIT = KvmLayouts.offset(KvmLayouts.RUN_HEAD, "immediate_exit");
    private static final long REQUEST_INTERRUPT_WINDOW = KvmLayouts.offset(KvmLayouts.RUN_HEAD, "request_interrupt_window");
    private static final long READY_FOR_INJECTION = KvmLayouts.offset(KvmLayouts.RUN_HEAD, "ready_for_interrupt_injection");
    private static final long IF_FLAG = KvmLayouts.offset(KvmLayouts.RUN_HEAD, "if_flag");

    private final MemorySegment s;

    KvmRun(MemorySegment mapping) {
        this.s = mapping;
    }

    public MemorySegment segment() {
        return s;
    }

    public int exitReason() {
        return s.get(JAVA_INT, EXIT_REASON);
    }

    /** kvm_run.immediate_exit: when set, KVM_RUN returns EINTR at once (KVM_CAP_IMMEDIATE_EXIT). */
    public void immediateExit(boolean on) {
        s.set(JAVA_BYTE, IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    public boolean immediateExit() {
        return s.get(JAVA_BYTE, IMMEDIATE_EXIT) != 0;
    }

    public void requestInterruptWindow(boolean on) {
        s.set(JAVA_BYTE, REQUEST_INTERRUPT_WINDOW, (byte) (on ? 1 : 0));
    }

    public boolean readyForInterruptInjection() {
        return s.get(JAVA_BYTE, READY_FOR_INJECTION) != 0;
    }

    public boolean ifFlag() {
        return s.get(JAVA_BYTE, IF_FLAG) != 0;
    }

    // KVM_EXIT_IO: struct { __u8 direction; __u8 size; __u16 port; __u32 count; __u64 data_offset; }

    /** {@link KvmExit#IO_IN} or {@link KvmExit#IO_OUT}. */
    public int ioDirection() {
        return s.get(JAVA_BYTE, UNION);
    }

    /** Access width in bytes (1, 2 or 4). */
    public int ioSize() {
        return s.get(JAVA_BYTE, UNION + 1);
    }

    public int ioPort() {
        return Short.toUnsignedInt(s.get(JAVA_SHORT, UNION + 2));
    }

    /** Repetitions (string I/O, REP INS/OUTS): {@code count} items of {@code size} bytes. */
    public int ioCount() {
        return s.get(JAVA_INT, UNION + 4);
    }

    public long ioDataOffset() {
        return s.get(JAVA_LONG, UNION + 8);
    }

    /** Item {@code i} of the I/O data (little endian, {@code size} bytes), zero-extended. */
    public long ioData(int i, int size) {
        long off = ioDataOffset() + (long) i * size;
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(s.get(JAVA_BYTE, off));
            case 2 -> Short.toUnsignedLong(s.get(JAVA_SHORT_U, off));
            case 4 -> Integer.toUnsignedLong(s.get(JAVA_INT_U, off));
            default -> throw new IllegalArgumentException("bad port I/O size " + size);
        };
    }

    /** Stores item {@code i} of an IN's data. */
    public void ioData(int i, int size, long value) {
        long off = ioDataOffset() + (long) i * size;
        switch (size) {
            case 1 -> s.set(JAVA_BYTE, off, (byte) value);
            case 2 -> s.set(JAVA_SHORT_U, off, (short) value);
            case 4 -> s.set(JAVA_INT_U, off, (int) value);
            default -> throw new IllegalArgumentException("bad port I/O size " + size);
        }
    }

    // KVM_EXIT_MMIO: struct { __u64 phys_addr; __u8 data[8]; __u32 len; __u8 is_write; }

    public long mmioPhysAddr() {
        return s.get(JAVA_LONG, UNION);
    }

    public int mmioLen() {
        return s.get(JAVA_INT, UNION + 16);
    }

    public boolean mmioIsWrite() {
        return s.get(JAVA_BYTE, UNION + 20) != 0;
    }

    /** The low {@code len} bytes of mmio.data, little endian, zero-extended. */
    public long mmioData(int len) {
        long v = s.get(JAVA_LONG_U, UNION + 8);
        return len >= 8 ? v : v & ((1L << (len * 8)) - 1);
    }

    /** Sets mmio.data for a read (all 8 bytes; the guest takes the low {@code len}). */
    public void mmioData(long value) {
        s.set(JAVA_LONG_U, UNION + 8, value);
    }

    // KVM_EXIT_SYSTEM_EVENT: struct { __u32 type; __u32 ndata; __u64 data[16]; }

    public int systemEventType() {
        return s.get(JAVA_INT, UNION);
    }

    // KVM_EXIT_INTERNAL_ERROR: struct { __u32 suberror; __u32 ndata; __u64 data[16]; }

    public int internalSuberror() {
        return s.get(JAVA_INT, UNION);
    }

    public int internalNdata() {
        return s.get(JAVA_INT, UNION + 4);
    }

    public long internalData(int i) {
        if (i < 0 || i >= 16) {
            throw new IndexOutOfBoundsException(i);
        }
        return s.get(JAVA_LONG, UNION + 8 + 8L * i);
    }

    // KVM_EXIT_FAIL_ENTRY: struct { __u64 hardware_entry_failure_reason; __u32 cpu; }

    public long failEntryReason() {
        return s.get(JAVA_LONG, UNION);
    }

    // KVM_EXIT_EXCEPTION: struct { __u32 exception; __u32 error_code; }

    public int exceptionNumber() {
        return s.get(JAVA_INT, UNION);
    }

    public int exceptionErrorCode() {
        return s.get(JAVA_INT, UNION + 4);
    }

    /** A one-line description of the current exit, for error messages (allocates; not for the hot path). */
    public String describe() {
        int r = exitReason();
        return switch (r) {
            case KvmExit.IO -> String.format("IO %s port 0x%x size %d count %d",
                    ioDirection() == KvmExit.IO_OUT ? "out" : "in", ioPort(), ioSize(), ioCount());
            case KvmExit.MMIO -> String.format("MMIO %s 0x%x len %d", mmioIsWrite() ? "write" : "read",
                    mmioPhysAddr(), mmioLen());
            case KvmExit.SYSTEM_EVENT -> "SYSTEM_EVENT type " + systemEventType();
            case KvmExit.INTERNAL_ERROR -> {
                StringBuilder b = new StringBuilder("INTERNAL_ERROR suberror " + internalSuberror());
                int n = Math.min(internalNdata(), 16);
                for (int i = 0; i < n; i++) {
                    b.append(i == 0 ? " data" : "").append(" 0x").append(Long.toHexString(internalData(i)));
                }
                yield b.toString();
            }
            case KvmExit.FAIL_ENTRY -> "FAIL_ENTRY hardware reason 0x" + Long.toHexString(failEntryReason());
            case KvmExit.EXCEPTION -> "EXCEPTION " + exceptionNumber() + " error code " + exceptionErrorCode();
            default -> KvmExit.name(r);
        };
    }

    private static final java.lang.foreign.ValueLayout.OfShort JAVA_SHORT_U = java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final java.lang.foreign.ValueLayout.OfInt JAVA_INT_U = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
    private static final java.lang.foreign.ValueLayout.OfLong JAVA_LONG_U = java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
}
