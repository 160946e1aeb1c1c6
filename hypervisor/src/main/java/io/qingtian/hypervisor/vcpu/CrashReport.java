package io.qingtian.hypervisor.vcpu;

import io.qingtian.kvm.KvmExit;
import io.qingtian.kvm.KvmRegs;
import io.qingtian.kvm.KvmRun;
import io.qingtian.kvm.KvmSegment;
import io.qingtian.kvm.KvmSregs;
import io.qingtian.kvm.KvmStateIoctls;
import io.qingtian.kvm.KvmVcpu;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The one-screen report a vCPU prints when its guest crashes or KVM cannot run it
 * (KVM_EXIT_SHUTDOWN, INTERNAL_ERROR, FAIL_ENTRY, EXCEPTION, UNKNOWN): general and special
 * registers, the pending events (KVM_GET_VCPU_EVENTS), and the last exits from the vCPU's
 * {@link ExitRing}. Built on the vCPU's own thread right after the exit (vCPU ioctls belong to
 * it), so it allocates freely: it happens once.
 *
 * <p>On AMD, KVM answers a SHUTDOWN intercept by re-initializing the vCPU (svm.c
 * shutdown_interception: "VMCB is undefined after a SHUTDOWN intercept", it clears the VMCB and
 * resets the vCPU), so after a triple fault the registers are the INIT state (CS F000, RIP FFF0);
 * the report says so, and the RIPs of the last exits are then the evidence of where the guest was.
 */
public final class CrashReport {
    private CrashReport() {}

    /** The report for {@code vcpu} after the exit now in {@code run}; every line starts with "qt: ". */
    public static String build(KvmVcpu vcpu, KvmRun run, ExitRing ring) {
        List<String> lines = new ArrayList<>();
        int reason = run.exitReason();
        lines.add(String.format("==== crash report: vCPU %d, %s after %d exits ====", vcpu.id(), headline(run),
                ring.recorded()));
        KvmRegs regs = null;
        KvmSregs sregs = null;
        try {
            regs = vcpu.getRegs();
            sregs = vcpu.getSregs();
        } catch (RuntimeException e) {
            lines.add("registers unavailable: " + e.getMessage());
        }
        if (regs != null && sregs != null) {
            if (reason == KvmExit.SHUTDOWN && isInitState(regs, sregs)) {
                lines.add("note: KVM reset this vCPU after the shutdown (AMD SVM does): the registers below are the INIT");
                lines.add("      state, not the faulting context; the RIPs of the last exits show where the guest was");
            }
            lines.addAll(registers(regs));
            lines.addAll(specialRegisters(sregs));
        }
        try {
            lines.add("events: " + events(KvmStateIoctls.get(vcpu.fd(), KvmStateIoctls.KVM_GET_VCPU_EVENTS,
                    KvmStateIoctls.VCPU_EVENTS_SIZE, "KVM_GET_VCPU_EVENTS")));
        } catch (RuntimeException e) {
            lines.add("events unavailable: " + e.getMessage());
        }
        List<ExitRing.Entry> last = ring.entries();
        lines.add("last " + last.size() + " exits, oldest first:");
        for (ExitRing.Entry e : last) {
            lines.add("  " + e.describe());
        }
        lines.add("==== end of crash report ====");
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append("qt: ").append(l).append('\n');
        }
        return b.toString();
    }

    static String headline(KvmRun run) {
        return switch (run.exitReason()) {
            case KvmExit.SHUTDOWN -> "KVM_EXIT_SHUTDOWN (guest triple fault)";
            case KvmExit.INTERNAL_ERROR, KvmExit.FAIL_ENTRY, KvmExit.EXCEPTION, KvmExit.UNKNOWN -> "KVM_EXIT_" + run.describe();
            default -> "exit " + run.describe();
        };
    }

    /** The architectural INIT state: CS selector F000 with base FFFF0000, RIP FFF0. */
    static boolean isInitState(KvmRegs r, KvmSregs s) {
        return r.rip() == 0xfff0 && s.cs().selector() == 0xf000 && s.cs().base() == 0xffff_0000L;
    }

    static List<String> registers(KvmRegs r) {
        return List.of(
                String.format("rip %016x rflags %08x", r.rip(), r.rflags()),
                String.format("rax %016x rbx %016x rcx %016x rdx %016x", r.rax(), r.rbx(), r.rcx(), r.rdx()),
                String.format("rsi %016x rdi %016x rsp %016x rbp %016x", r.rsi(), r.rdi(), r.rsp(), r.rbp()),
                String.format("r8  %016x r9  %016x r10 %016x r11 %016x", r.r8(), r.r9(), r.r10(), r.r11()),
                String.format("r12 %016x r13 %016x r14 %016x r15 %016x", r.r12(), r.r13(), r.r14(), r.r15()));
    }

    static List<String> specialRegisters(KvmSregs s) {
        return List.of(
                String.format("cr0 %08x cr2 %016x cr3 %016x cr4 %08x cr8 %x efer %x apic_base %x",
                        s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase()),
                segment("cs", s.cs()) + "  " + segment("ss", s.ss()),
                segment("ds", s.ds()) + "  " + segment("es", s.es()),
                segment("fs", s.fs()) + "  " + segment("gs", s.gs()),
                segment("tr", s.tr()) + "  " + segment("ldt", s.ldt()),
                String.format("gdt %016x/%x idt %016x/%x", s.gdtBase(), s.gdtLimit(), s.idtBase(), s.idtLimit()));
    }

    /** {@code cs 0010 base 0 limit ffffffff type b p1 dpl0 db0 s1 l1 g1}. */
    static String segment(String name, KvmSegment g) {
        return String.format("%-3s %04x base %x limit %x type %x p%d dpl%d db%d s%d l%d g%d%s", name, g.selector(),
                g.base(), g.limit(), g.type(), g.present() ? 1 : 0, g.dpl(), g.db() ? 1 : 0, g.s() ? 1 : 0,
                g.l() ? 1 : 0, g.g() ? 1 : 0, g.unusable() ? " unusable" : "");
    }

    /**
     * struct kvm_vcpu_events (api.rst 4.31) in one line: exception {injected, nr, has_error_code,
     * pending, error_code} at 0, interrupt {injected, nr, soft, shadow} at 8, nmi {injected,
     * pending, masked} at 12, sipi_vector at 16, flags at 20, smi {smm, pending, smm_inside_nmi,
     * latched_init} at 24, triple_fault.pending at 28, exception_has_payload at 55, payload at 56.
     */
    static String events(byte[] blob) {
        if (blob.length < KvmStateIoctls.VCPU_EVENTS_SIZE) {
            return "(short kvm_vcpu_events: " + blob.length + " bytes)";
        }
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        StringBuilder s = new StringBuilder();
        int excInjected = b.get(0);
        int excPending = b.get(3);
        s.append("exception ");
        if (excInjected != 0 || excPending != 0) {
            s.append(excInjected != 0 ? "injected" : "pending").append(" #").append(Byte.toUnsignedInt(b.get(1)));
            if (b.get(2) != 0) {
                s.append(String.format(" err %x", b.getInt(4)));
            }
            if (b.get(55) != 0) {
                s.append(String.format(" payload %x", b.getLong(56)));
            }
        } else {
            s.append("none");
        }
        s.append("; interrupt ");
        if (b.get(8) != 0) {
            s.append("injected vector 0x").append(Integer.toHexString(Byte.toUnsignedInt(b.get(9))))
                    .append(b.get(10) != 0 ? " soft" : "");
        } else {
            s.append("none");
        }
        int shadow = b.get(11);
        if (shadow != 0) {
            s.append(" shadow").append((shadow & 1) != 0 ? " sti" : "").append((shadow & 2) != 0 ? " mov-ss" : "");
        }
        s.append("; nmi").append(b.get(12) != 0 ? " injected" : "").append(b.get(13) != 0 ? " pending" : "")
                .append(b.get(14) != 0 ? " masked" : "").append(b.get(12) == 0 && b.get(13) == 0 && b.get(14) == 0 ? " none" : "");
        if (b.get(24) != 0 || b.get(25) != 0) {
            s.append("; smi").append(b.get(24) != 0 ? " in-smm" : "").append(b.get(25) != 0 ? " pending" : "");
        }
        if (b.get(27) != 0) {
            s.append("; init latched");
        }
        if (b.get(28) != 0) {
            s.append("; triple fault pending");
        }
        s.append(String.format("; flags %x", b.getInt(20)));
        return s.toString();
    }
}
