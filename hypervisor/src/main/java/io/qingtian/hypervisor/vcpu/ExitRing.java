package io.qingtian.hypervisor.vcpu;

import io.qingtian.kvm.KvmExit;
import java.util.ArrayList;
import java.util.List;

/**
 * The last exits of one vCPU, for the crash report: a fixed ring of primitive arrays filled by
 * the vCPU's own thread on every exit, so recording allocates nothing and costs a few stores.
 * Only the owning thread writes; {@link #entries()} is read by the same thread (when it builds
 * the report) or by another thread after the vCPU thread has ended.
 *
 * <p>What one entry holds: the KVM exit reason (or {@link #EINTR} when KVM_RUN returned EINTR
 * because of a kick), whether it was an OUT/MMIO write, the port or guest-physical address, the
 * access size, the repetition count of string I/O, the value written or the value handed back to
 * the guest for a read (the first item of string I/O), and the guest RIP at the exit (from KVM's
 * synced registers; {@link #NO_RIP} when the host's KVM does not sync them). The RIP is the one
 * KVM reports: for an IN or MMIO read the instruction's own (it completes on the next KVM_RUN),
 * for an OUT the instruction's on SVM/VMX fast port I/O but already the next one's where KVM
 * emulated the OUT (PVM).
 */
public final class ExitRing {
    /** Pseudo exit reason: KVM_RUN returned EINTR (a kick, or a signal) instead of an exit. */
    public static final int EINTR = -1;
    /** RIP value recorded when the RIP is not known. */
    public static final long NO_RIP = -1;
    /** What the hypervisor keeps per vCPU: enough to see the lead-up to a crash on one screen. */
    public static final int DEFAULT_CAPACITY = 32;

    private final int capacity;
    private final int[] reason;
    private final boolean[] write;
    private final long[] address;
    private final int[] size;
    private final int[] count;
    private final long[] value;
    private final long[] rip;
    private int next; // the slot the next exit goes into
    private long recorded;

    /** One recorded exit; {@code seq} numbers exits from 1 since the vCPU started. */
    public record Entry(long seq, int reason, boolean write, long address, int size, int count, long value, long rip) {
        /** One line for the crash report, e.g. {@code #1234 IO out 0x3f8 size 1 = 0x41 rip ffffffff81001234}. */
        public String describe() {
            String where = switch (reason) {
                case KvmExit.IO -> String.format("IO %s 0x%x size %d%s %s 0x%x", write ? "out" : "in", address, size,
                        count > 1 ? " count " + count : "", write ? "=" : "->", value);
                case KvmExit.MMIO -> String.format("MMIO %s 0x%x len %d %s 0x%x", write ? "write" : "read", address,
                        size, write ? "=" : "->", value);
                case EINTR -> "EINTR (KVM_RUN interrupted by a signal)";
                default -> KvmExit.name(reason);
            };
            return String.format("#%d %s%s", seq, where, rip == NO_RIP ? "" : String.format(" rip %x", rip));
        }
    }

    public ExitRing() {
        this(DEFAULT_CAPACITY);
    }

    public ExitRing(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("exit ring capacity must be at least 1, not " + capacity);
        }
        this.capacity = capacity;
        this.reason = new int[capacity];
        this.write = new boolean[capacity];
        this.address = new long[capacity];
        this.size = new int[capacity];
        this.count = new int[capacity];
        this.value = new long[capacity];
        this.rip = new long[capacity];
    }

    public int capacity() {
        return capacity;
    }

    /** Exits recorded since the start, including those the ring has overwritten. */
    public long recorded() {
        return recorded;
    }

    /** Records one exit; overwrites the oldest when full. No allocation. */
    public void record(int exitReason, boolean isWrite, long addr, int accessSize, int repeat, long data, long guestRip) {
        int i = next;
        reason[i] = exitReason;
        write[i] = isWrite;
        address[i] = addr;
        size[i] = accessSize;
        count[i] = repeat;
        value[i] = data;
        rip[i] = guestRip;
        next = i + 1 == capacity ? 0 : i + 1;
        recorded++;
    }

    /** Records an exit that carries no access (HLT, SHUTDOWN, INTR, ...). */
    public void record(int exitReason, long guestRip) {
        record(exitReason, false, 0, 0, 0, 0, guestRip);
    }

    /** Corrects the value of the newest entry (an IN's data is known only after the device answered). */
    public void setLastValue(long data) {
        if (recorded > 0) {
            value[(next == 0 ? capacity : next) - 1] = data;
        }
    }

    /** The entries still in the ring, oldest first (allocates: for reports only). */
    public List<Entry> entries() {
        int n = (int) Math.min(recorded, capacity);
        List<Entry> out = new ArrayList<>(n);
        int i = n < capacity ? 0 : next;
        for (long seq = recorded - n + 1; seq <= recorded; seq++) {
            out.add(new Entry(seq, reason[i], write[i], address[i], size[i], count[i], value[i], rip[i]));
            i = i + 1 == capacity ? 0 : i + 1;
        }
        return out;
    }
}
