package io.qingtian.kvm;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * struct kvm_regs as a mutable view over native memory, filled by {@link KvmVcpu#getRegs}
 * and passed to {@link KvmVcpu#setRegs}. Reusable: a caller on a hot path keeps one.
 */
public final class KvmRegs {
    private final MemorySegment s;

    public KvmRegs(MemorySegment segment) {
        if (segment.byteSize() < KvmLayouts.REGS.byteSize()) {
            throw new IllegalArgumentException("segment too small for kvm_regs");
        }
        this.s = segment;
    }

    /** Zeroed registers in {@code arena}. */
    public static KvmRegs allocate(Arena arena) {
        return new KvmRegs(arena.allocate(KvmLayouts.REGS));
    }

    public MemorySegment segment() {
        return s;
    }

    public long rax() {
        return s.get(JAVA_LONG, 0);
    }

    public KvmRegs rax(long v) {
        s.set(JAVA_LONG, 0, v);
        return this;
    }

    public long rbx() {
        return s.get(JAVA_LONG, 8);
    }

    public KvmRegs rbx(long v) {
        s.set(JAVA_LONG, 8, v);
        return this;
    }

    public long rcx() {
        return s.get(JAVA_LONG, 16);
    }

    public KvmRegs rcx(long v) {
        s.set(JAVA_LONG, 16, v);
        return this;
    }

    public long rdx() {
        return s.get(JAVA_LONG, 24);
    }

    public KvmRegs rdx(long v) {
        s.set(JAVA_LONG, 24, v);
        return this;
    }

    public long rsi() {
        return s.get(JAVA_LONG, 32);
    }

    public KvmRegs rsi(long v) {
        s.set(JAVA_LONG, 32, v);
        return this;
    }

    public long rdi() {
        return s.get(JAVA_LONG, 40);
    }

    public KvmRegs rdi(long v) {
        s.set(JAVA_LONG, 40, v);
        return this;
    }

    public long rsp() {
        return s.get(JAVA_LONG, 48);
    }

    public KvmRegs rsp(long v) {
        s.set(JAVA_LONG, 48, v);
        return this;
    }

    public long rbp() {
        return s.get(JAVA_LONG, 56);
    }

    public KvmRegs rbp(long v) {
        s.set(JAVA_LONG, 56, v);
        return this;
    }

    public long r8() {
        return s.get(JAVA_LONG, 64);
    }

    public KvmRegs r8(long v) {
        s.set(JAVA_LONG, 64, v);
        return this;
    }

    public long r9() {
        return s.get(JAVA_LONG, 72);
    }

    public KvmRegs r9(long v) {
        s.set(JAVA_LONG, 72, v);
        return this;
    }

    public long r10() {
        return s.get(JAVA_LONG, 80);
    }

    public KvmRegs r10(long v) {
        s.set(JAVA_LONG, 80, v);
        return this;
    }

    public long r11() {
        return s.get(JAVA_LONG, 88);
    }

    public KvmRegs r11(long v) {
        s.set(JAVA_LONG, 88, v);
        return this;
    }

    public long r12() {
        return s.get(JAVA_LONG, 96);
    }

    public KvmRegs r12(long v) {
        s.set(JAVA_LONG, 96, v);
        return this;
    }

    public long r13() {
        return s.get(JAVA_LONG, 104);
    }

    public KvmRegs r13(long v) {
        s.set(JAVA_LONG, 104, v);
        return this;
    }

    public long r14() {
        return s.get(JAVA_LONG, 112);
    }

    public KvmRegs r14(long v) {
        s.set(JAVA_LONG, 112, v);
        return this;
    }

    public long r15() {
        return s.get(JAVA_LONG, 120);
    }

    public KvmRegs r15(long v) {
        s.set(JAVA_LONG, 120, v);
        return this;
    }

    public long rip() {
        return s.get(JAVA_LONG, 128);
    }

    public KvmRegs rip(long v) {
        s.set(JAVA_LONG, 128, v);
        return this;
    }

    public long rflags() {
        return s.get(JAVA_LONG, 136);
    }

    public KvmRegs rflags(long v) {
        s.set(JAVA_LONG, 136, v);
        return this;
    }

    @Override
    public String toString() {
        return String.format("rip=%x rflags=%x rax=%x rbx=%x rcx=%x rdx=%x rsi=%x rdi=%x rsp=%x rbp=%x",
                rip(), rflags(), rax(), rbx(), rcx(), rdx(), rsi(), rdi(), rsp(), rbp());
    }
}
