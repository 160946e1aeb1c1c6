package io.qingtian.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A seccomp-BPF filter for the hypervisor process (Documentation/userspace-api/seccomp_filter.rst).
 *
 * <p>Why a deny-list and not an allow-list: the hypervisor is a JVM. The set of system calls a
 * HotSpot JVM makes depends on the GC, the JIT, the JDK version, glibc and the class path
 * (madvise, membarrier, rseq, clone3, sched_getaffinity, futex_waitv...), and an allow-list that
 * misses one kills a healthy VM at an arbitrary moment. What the filter must guarantee is that a
 * compromised VMM cannot widen its reach: no new programs (execve), no access to other processes
 * (ptrace, process_vm_*), no kernel/module/BPF/perf/keyring surface, no namespace or mount
 * changes, no host administration (reboot, swap, clocks, kexec). Those are denied with
 * {@code SECCOMP_RET_KILL_PROCESS}; so is any other architecture/ABI than x86_64 (the x32 bit
 * and i386 {@code int 0x80} calls would otherwise bypass the numbers checked here).
 *
 * <p>Installed with {@code prctl(PR_SET_NO_NEW_PRIVS)} then
 * {@code seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog)}: TSYNC applies it to
 * every thread of the JVM at once, not only the caller (seccomp(2)).
 */
public final class Seccomp {
    /** include/uapi/linux/audit.h: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
    public static final int AUDIT_ARCH_X86_64 = 0xC000003E;
    static final int X32_SYSCALL_BIT = 0x40000000;
    static final int SECCOMP_RET_KILL_PROCESS = 0x80000000;
    static final int SECCOMP_RET_ALLOW = 0x7fff0000;
    static final int SECCOMP_SET_MODE_FILTER = 1;
    static final int SECCOMP_FILTER_FLAG_TSYNC = 1;
    static final int PR_SET_NO_NEW_PRIVS = 38;
    static final int PR_GET_SECCOMP = 21;
    static final long SYS_SECCOMP = 317;
    // linux/filter.h, linux/bpf_common.h
    static final short BPF_LD_W_ABS = 0x20;
    static final short BPF_JEQ_K = 0x15;
    static final short BPF_JGE_K = 0x35;
    static final short BPF_RET_K = 0x06;
    /** struct seccomp_data: int nr at 0, __u32 arch at 4. */
    static final int OFF_NR = 0;
    static final int OFF_ARCH = 4;

    /** x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl) the hypervisor must never make. */
    public static final Map<String, Integer> DENIED = denied();

    private static Map<String, Integer> denied() {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("execve", 59);
        m.put("execveat", 322);
        m.put("ptrace", 101);
        m.put("process_vm_readv", 310);
        m.put("process_vm_writev", 311);
        m.put("kcmp", 312);
        m.put("mount", 165);
        m.put("umount2", 166);
        m.put("pivot_root", 155);
        m.put("chroot", 161);
        m.put("open_tree", 428);
        m.put("move_mount", 429);
        m.put("fsopen", 430);
        m.put("fsconfig", 431);
        m.put("fsmount", 432);
        m.put("fspick", 433);
        m.put("mount_setattr", 442);
        m.put("setns", 308);
        m.put("unshare", 272);
        m.put("personality", 135);
        m.put("kexec_load", 246);
        m.put("kexec_file_load", 320);
        m.put("init_module", 175);
        m.put("finit_module", 313);
        m.put("delete_module", 176);
        m.put("bpf", 321);
        m.put("perf_event_open", 298);
        m.put("keyctl", 250);
        m.put("add_key", 248);
        m.put("request_key", 249);
        m.put("open_by_handle_at", 304);
        m.put("name_to_handle_at", 303);
        m.put("reboot", 169);
        m.put("swapon", 167);
        m.put("swapoff", 168);
        m.put("acct", 163);
        m.put("settimeofday", 164);
        m.put("clock_settime", 227);
        m.put("clock_adjtime", 305);
        m.put("adjtimex", 159);
        m.put("iopl", 172);
        m.put("ioperm", 173);
        m.put("quotactl", 179);
        m.put("sethostname", 170);
        m.put("setdomainname", 171);
        m.put("syslog", 103);
        m.put("uselib", 134);
        m.put("vhangup", 153);
        m.put("lookup_dcookie", 212);
        m.put("io_uring_setup", 425);
        return java.util.Collections.unmodifiableMap(m);
    }

    private Seccomp() {}

    /** One BPF instruction (struct sock_filter). */
    public record Insn(short code, byte jt, byte jf, int k) {}

    /**
     * The filter program: load arch, kill unless x86_64; load nr, kill x32 numbers (bit 30);
     * then one compare-and-kill pair per denied call; allow the rest.
     */
    public static Insn[] program() {
        int n = DENIED.size();
        Insn[] p = new Insn[6 + 2 * n + 1];
        int i = 0;
        p[i++] = new Insn(BPF_LD_W_ABS, (byte) 0, (byte) 0, OFF_ARCH);
        p[i++] = new Insn(BPF_JEQ_K, (byte) 1, (byte) 0, AUDIT_ARCH_X86_64);
        p[i++] = new Insn(BPF_RET_K, (byte) 0, (byte) 0, SECCOMP_RET_KILL_PROCESS);
        p[i++] = new Insn(BPF_LD_W_ABS, (byte) 0, (byte) 0, OFF_NR);
        p[i++] = new Insn(BPF_JGE_K, (byte) 0, (byte) 1, X32_SYSCALL_BIT);
        p[i++] = new Insn(BPF_RET_K, (byte) 0, (byte) 0, SECCOMP_RET_KILL_PROCESS);
        for (int nr : DENIED.values()) {
            p[i++] = new Insn(BPF_JEQ_K, (byte) 0, (byte) 1, nr);
            p[i++] = new Insn(BPF_RET_K, (byte) 0, (byte) 0, SECCOMP_RET_KILL_PROCESS);
        }
        p[i] = new Insn(BPF_RET_K, (byte) 0, (byte) 0, SECCOMP_RET_ALLOW);
        return p;
    }

    /**
     * Sets no_new_privs and installs {@link #program()} on every thread of this process.
     * Irreversible: a later denied call kills the whole process with SIGSYS.
     */
    public static void installHypervisorFilter() {
        Insn[] prog = program();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment filter = a.allocate(8L * prog.length, 8);
            for (int i = 0; i < prog.length; i++) {
                long o = 8L * i;
                filter.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.nativeOrder()), o, prog[i].code());
                filter.set(ValueLayout.JAVA_BYTE, o + 2, prog[i].jt());
                filter.set(ValueLayout.JAVA_BYTE, o + 3, prog[i].jf());
                filter.set(ValueLayout.JAVA_INT_UNALIGNED, o + 4, prog[i].k());
            }
            MemorySegment fprog = a.allocate(16, 8); // struct sock_fprog { u16 len; pad; filter* }
            fprog.set(ValueLayout.JAVA_SHORT, 0, (short) prog.length);
            fprog.set(ValueLayout.ADDRESS, 8, filter);
            int r = (int) Prctl.H.invokeExact(NativeCall.state(), PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L);
            NativeCall.check(r, "prctl(PR_SET_NO_NEW_PRIVS)");
            long s = (long) Syscall3.H.invokeExact(NativeCall.state(), SYS_SECCOMP, (long) SECCOMP_SET_MODE_FILTER,
                    (long) SECCOMP_FILTER_FLAG_TSYNC, fprog);
            if (s > 0) {
                throw new LinuxException("seccomp(TSYNC): thread " + s + " could not be synchronized", Errno.EPERM);
            }
            NativeCall.check(s, "seccomp(SECCOMP_SET_MODE_FILTER)");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** 2 when a filter is installed on the calling thread (prctl PR_GET_SECCOMP). */
    public static int mode() {
        try {
            return NativeCall.check((int) Prctl.H.invokeExact(NativeCall.state(), PR_GET_SECCOMP, 0L, 0L, 0L, 0L),
                    "prctl(PR_GET_SECCOMP)");
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    /** A raw syscall with three arguments (tests: make a forbidden call on purpose). */
    public static long syscall(long nr, long a0, long a1, MemorySegment a2) {
        try {
            return (long) Syscall3.H.invokeExact(NativeCall.state(), nr, a0, a1, a2);
        } catch (Throwable t) {
            throw NativeCall.unexpected(t);
        }
    }

    private static final class Prctl {
        static final MethodHandle H = NativeCall.downcallVariadic("prctl", FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG), 1);
    }

    private static final class Syscall3 {
        static final MethodHandle H = NativeCall.downcallVariadic("syscall", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS), 1);
    }
}
