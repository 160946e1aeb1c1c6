package io.qingtian.trust.measure;

import io.qingtian.trust.crypto.Sha384;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@link Pcr#COUNT} SHA-384 registers, all zero at reset, changed only by extend with TPM 2.0
 * semantics (TPM 2.0 Part 1 §17.5): PCR_new = SHA-384(PCR_old || digest), where digest is the
 * SHA-384 of the measured data. Not thread-safe: one bank per instance launch.
 */
public final class PcrBank {
    private final byte[][] regs = new byte[Pcr.COUNT][Sha384.LENGTH];

    public void extend(int index, byte[] digest) {
        check(index);
        if (digest.length != Sha384.LENGTH) {
            throw new IllegalArgumentException("PCR digest must be 48 bytes, got " + digest.length);
        }
        regs[index] = Sha384.of(regs[index], digest);
    }

    public byte[] value(int index) {
        check(index);
        return regs[index].clone();
    }

    /** All registers, index order. */
    public Map<Integer, byte[]> snapshot() {
        Map<Integer, byte[]> m = new LinkedHashMap<>();
        for (int i = 0; i < Pcr.COUNT; i++) {
            m.put(i, regs[i].clone());
        }
        return m;
    }

    public boolean sameAs(PcrBank other) {
        for (int i = 0; i < Pcr.COUNT; i++) {
            if (!Arrays.equals(regs[i], other.regs[i])) {
                return false;
            }
        }
        return true;
    }

    private static void check(int index) {
        if (index < 0 || index >= Pcr.COUNT) {
            throw new IllegalArgumentException("PCR index " + index + " out of range 0.." + (Pcr.COUNT - 1));
        }
    }
}
