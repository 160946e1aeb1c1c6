package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemorySegment;

/** struct kvm_segment (a segment register's hidden part) as a view inside {@link KvmSregs}. */
public final class KvmSegment {
    private final MemorySegment s;

    KvmSegment(MemorySegment s) {
        this.s = s;
    }

    public long base() { return s.get(JAVA_LONG, 0); }
    public int limit() { return s.get(JAVA_INT, 8); }
    public int selector() { return Short.toUnsignedInt(s.get(JAVA_SHORT, 12)); }
    public int type() { return s.get(JAVA_BYTE, 14); }
    public boolean present() { return s.get(JAVA_BYTE, 15) != 0; }
    public int dpl() { return s.get(JAVA_BYTE, 16); }
    public boolean db() { return s.get(JAVA_BYTE, 17) != 0; }
    public boolean s() { return s.get(JAVA_BYTE, 18) != 0; }
    public boolean l() { return s.get(JAVA_BYTE, 19) != 0; }
    public boolean g() { return s.get(JAVA_BYTE, 20) != 0; }
    public boolean unusable() { return s.get(JAVA_BYTE, 22) != 0; }

    /**
     * Sets every field at once, the way a descriptor defines them.
     *
     * @param type the 4-bit descriptor type (e.g. 0xb: execute/read, accessed code)
     */
    public KvmSegment set(long base, int limit, int selector, int type, boolean present, int dpl,
                          boolean db, boolean sBit, boolean l, boolean g) {
        s.set(JAVA_LONG, 0, base);
        s.set(JAVA_INT, 8, limit);
        s.set(JAVA_SHORT, 12, (short) selector);
        s.set(JAVA_BYTE, 14, (byte) type);
        s.set(JAVA_BYTE, 15, (byte) (present ? 1 : 0));
        s.set(JAVA_BYTE, 16, (byte) dpl);
        s.set(JAVA_BYTE, 17, (byte) (db ? 1 : 0));
        s.set(JAVA_BYTE, 18, (byte) (sBit ? 1 : 0));
        s.set(JAVA_BYTE, 19, (byte) (l ? 1 : 0));
        s.set(JAVA_BYTE, 20, (byte) (g ? 1 : 0));
        s.set(JAVA_BYTE, 21, (byte) 0);
        s.set(JAVA_BYTE, 22, (byte) (present ? 0 : 1));
        return this;
    }

    public KvmSegment base(long v) { s.set(JAVA_LONG, 0, v); return this; }
    public KvmSegment limit(int v) { s.set(JAVA_INT, 8, v); return this; }
    public KvmSegment selector(int v) { s.set(JAVA_SHORT, 12, (short) v); return this; }

    @Override
    public String toString() {
        return String.format("sel=%x base=%x limit=%x type=%x p=%b dpl=%d db=%b s=%b l=%b g=%b",
                selector(), base(), limit(), type(), present(), dpl(), db(), s(), l(), g());
    }
}
