package io.qingtian.hypervisor.snapshot;

import static io.qingtian.kvm.KvmStateIoctls.DEBUGREGS_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.FPU_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.LAPIC_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.REGS_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.SREGS_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.VCPU_EVENTS_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.XCRS_SIZE;
import static io.qingtian.kvm.KvmStateIoctls.XSAVE_SIZE;

import io.qingtian.hypervisor.x86.BootMsrs;
import io.qingtian.kvm.KvmIoctls;
import io.qingtian.kvm.KvmStateIoctls;
import io.qingtian.kvm.KvmVcpu;
import io.qingtian.kvm.MsrEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Saves and restores one vCPU's architectural state as a snapshot section ("VCPU"), in the
 * order KVM needs (Firecracker vstate/vcpu, QEMU kvm_arch_put_registers): MP state, REGS,
 * SREGS (sets the mode), FPU/XSAVE, XCRS, debug registers, LAPIC (after SREGS, which sets the
 * APIC base), MSRs (after SREGS: EFER-dependent ones; the TSC deadline after the LAPIC), and
 * VCPU_EVENTS last (pending exceptions/NMIs/interrupt shadow, which the earlier sets clear).
 * The vCPU must be outside KVM_RUN (parked, or not started).
 */
public final class VcpuState {
    private VcpuState() {}

    /**
     * Reads the state of a parked vCPU; {@code msrIndices} from KVM_GET_MSR_INDEX_LIST, to which
     * the MSRs the builder sets at boot ({@link BootMsrs}) are added: KVM's list lacks some of
     * them (IA32_MTRR_DEF_TYPE is not in it on Linux 6.1), and a restore no longer writes boot
     * values first, so what is not saved here would come back as KVM's reset value.
     */
    public static SnapshotFile.Section capture(KvmVcpu v, int[] msrIndices, boolean xsave) {
        msrIndices = withBootMsrs(msrIndices);
        int fd = v.fd();
        Map<String, byte[]> e = new LinkedHashMap<>();
        e.put("id", ByteBuffer.allocate(4).putInt(v.id()).array());
        e.put("mp_state", ByteBuffer.allocate(4).putInt(v.getMpState()).array());
        e.put("regs", KvmStateIoctls.get(fd, KvmIoctls.KVM_GET_REGS, REGS_SIZE, "KVM_GET_REGS"));
        e.put("sregs", KvmStateIoctls.get(fd, KvmIoctls.KVM_GET_SREGS, SREGS_SIZE, "KVM_GET_SREGS"));
        e.put("fpu", KvmStateIoctls.get(fd, KvmIoctls.KVM_GET_FPU, FPU_SIZE, "KVM_GET_FPU"));
        if (xsave) {
            e.put("xsave", KvmStateIoctls.get(fd, KvmStateIoctls.KVM_GET_XSAVE, XSAVE_SIZE, "KVM_GET_XSAVE"));
            e.put("xcrs", KvmStateIoctls.get(fd, KvmStateIoctls.KVM_GET_XCRS, XCRS_SIZE, "KVM_GET_XCRS"));
        }
        e.put("debugregs", KvmStateIoctls.get(fd, KvmStateIoctls.KVM_GET_DEBUGREGS, DEBUGREGS_SIZE, "KVM_GET_DEBUGREGS"));
        e.put("lapic", KvmStateIoctls.get(fd, KvmIoctls.KVM_GET_LAPIC, LAPIC_SIZE, "KVM_GET_LAPIC"));
        e.put("tsc_khz", ByteBuffer.allocate(4).putInt(tscKhz(v)).array());
        e.put("msrs", encodeMsrs(readMsrs(v, msrIndices)));
        e.put("vcpu_events", KvmStateIoctls.get(fd, KvmStateIoctls.KVM_GET_VCPU_EVENTS, VCPU_EVENTS_SIZE, "KVM_GET_VCPU_EVENTS"));
        return new SnapshotFile.Section("VCPU", e);
    }

    /**
     * Writes a saved state into a fresh vCPU (created with the same CPUID). Returns the MSRs KVM
     * refused (empty normally), so the caller can report them.
     */
    public static List<Integer> restore(KvmVcpu v, SnapshotFile.Section s) {
        int fd = v.fd();
        int id = ByteBuffer.wrap(s.require("id")).getInt();
        if (id != v.id()) {
            throw new SnapshotException("snapshot vCPU " + id + " does not match vCPU " + v.id());
        }
        int savedKhz = ByteBuffer.wrap(s.require("tsc_khz")).getInt();
        if (savedKhz > 0 && savedKhz != tscKhz(v)) {
            // The guest calibrated its clocks against the saved frequency; KVM scales the TSC
            // if the host supports it (KVM_CAP_TSC_CONTROL), else this fails and we say so.
            KvmStateIoctls.setTscKhz(v, savedKhz);
        }
        List<MsrEntry> saved = decodeMsrs(s.require("msrs"));
        v.setMpState(ByteBuffer.wrap(s.require("mp_state")).getInt());
        KvmStateIoctls.set(fd, KvmIoctls.KVM_SET_REGS, REGS_SIZE, s.require("regs"), "KVM_SET_REGS");
        KvmStateIoctls.set(fd, KvmIoctls.KVM_SET_SREGS, SREGS_SIZE, s.require("sregs"), "KVM_SET_SREGS");
        KvmStateIoctls.set(fd, KvmIoctls.KVM_SET_FPU, FPU_SIZE, s.require("fpu"), "KVM_SET_FPU");
        if (s.entries().containsKey("xsave")) {
            KvmStateIoctls.set(fd, KvmStateIoctls.KVM_SET_XSAVE, XSAVE_SIZE, s.require("xsave"), "KVM_SET_XSAVE");
            KvmStateIoctls.set(fd, KvmStateIoctls.KVM_SET_XCRS, XCRS_SIZE, s.require("xcrs"), "KVM_SET_XCRS");
        }
        KvmStateIoctls.set(fd, KvmStateIoctls.KVM_SET_DEBUGREGS, DEBUGREGS_SIZE, s.require("debugregs"), "KVM_SET_DEBUGREGS");
        KvmStateIoctls.set(fd, KvmIoctls.KVM_SET_LAPIC, LAPIC_SIZE, s.require("lapic"), "KVM_SET_LAPIC");
        // Boot MSRs a snapshot does not hold (written before this hypervisor saved them, or KVM
        // could not read them) get the builder's boot values, as the source VM had at its boot:
        // the builder no longer writes them for a restored VM.
        List<Integer> refused = new ArrayList<>(writeMsrs(v, missingBootMsrs(saved)));
        refused.addAll(writeMsrs(v, saved));
        KvmStateIoctls.set(fd, KvmStateIoctls.KVM_SET_VCPU_EVENTS, VCPU_EVENTS_SIZE, s.require("vcpu_events"),
                "KVM_SET_VCPU_EVENTS");
        return refused;
    }

    /** {@code indices} plus every boot MSR not among them. */
    static int[] withBootMsrs(int[] indices) {
        java.util.LinkedHashSet<Integer> all = new java.util.LinkedHashSet<>();
        for (int i : indices) {
            all.add(i);
        }
        for (MsrEntry m : BootMsrs.entries()) {
            all.add(m.index());
        }
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The boot MSRs (with their boot values) whose index {@code saved} lacks. */
    static List<MsrEntry> missingBootMsrs(List<MsrEntry> saved) {
        java.util.Set<Integer> have = new java.util.HashSet<>();
        for (MsrEntry m : saved) {
            have.add(m.index());
        }
        List<MsrEntry> out = new ArrayList<>();
        for (MsrEntry m : BootMsrs.entries()) {
            if (!have.contains(m.index())) {
                out.add(m);
            }
        }
        return out;
    }

    private static int tscKhz(KvmVcpu v) {
        try {
            return v.tscKhz();
        } catch (RuntimeException e) {
            return 0; // no KVM_CAP_GET_TSC_KHZ: nothing to compare
        }
    }

    /** KVM_GET_MSRS stops at the first MSR it cannot read: skip that one and go on. */
    static List<MsrEntry> readMsrs(KvmVcpu v, int[] indices) {
        List<MsrEntry> out = new ArrayList<>();
        int from = 0;
        while (from < indices.length) {
            int[] rest = java.util.Arrays.copyOfRange(indices, from, indices.length);
            List<MsrEntry> got = v.getMsrs(rest);
            out.addAll(got);
            from += got.size() + 1; // the one after the last read is unreadable here
        }
        return out;
    }

    /** KVM_SET_MSRS in one call; on a refusal, one by one, collecting the refused indices. */
    static List<Integer> writeMsrs(KvmVcpu v, List<MsrEntry> msrs) {
        if (msrs.isEmpty()) {
            return List.of();
        }
        try {
            v.setMsrs(msrs);
            return List.of();
        } catch (RuntimeException all) {
            List<Integer> refused = new ArrayList<>();
            for (MsrEntry m : msrs) {
                try {
                    v.setMsrs(List.of(m));
                } catch (RuntimeException one) {
                    refused.add(m.index());
                }
            }
            return refused;
        }
    }

    static byte[] encodeMsrs(List<MsrEntry> msrs) {
        ByteBuffer b = ByteBuffer.allocate(12 * msrs.size());
        for (MsrEntry m : msrs) {
            b.putInt(m.index()).putLong(m.data());
        }
        return b.array();
    }

    static List<MsrEntry> decodeMsrs(byte[] blob) {
        if (blob.length % 12 != 0) {
            throw new SnapshotException("corrupt snapshot: MSR list of " + blob.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(blob);
        List<MsrEntry> out = new ArrayList<>();
        while (b.hasRemaining()) {
            out.add(new MsrEntry(b.getInt(), b.getLong()));
        }
        return out;
    }
}
