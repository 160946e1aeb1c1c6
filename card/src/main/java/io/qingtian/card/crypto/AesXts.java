package io.qingtian.card.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.spec.SecretKeySpec;

/**
 * XTS-AES (IEEE 1619-2007) over 512-byte sectors with the dm-crypt "plain64" tweak: the
 * data unit sequence number is the sector number as a 128-bit little-endian integer. With a
 * 64-byte key this is byte-compatible with {@code cryptsetup --type plain --cipher
 * aes-xts-plain64 --key-size 512 --sector-size 512}: the first half of the key encrypts the
 * data (Key1), the second half the tweak (Key2), as in Linux crypto/xts.c.
 *
 * <p>Built on the JDK's AES in ECB mode (AES-NI intrinsics), so XTS itself is only the tweak
 * arithmetic (IEEE 1619 §5.2: T_j = E_K2(i) ⊗ α^j in GF(2^128)) and two XORs per block.
 * Sectors are whole, so ciphertext stealing (§5.3.2) is never needed. To keep the number of
 * Cipher calls low, a chunk of sectors is processed with one call for all initial tweaks and
 * one call for all data blocks. Cipher instances and scratch buffers are per thread (one
 * queue worker per thread), never shared.
 */
public final class AesXts {
    public static final int SECTOR_SIZE = 512;
    private static final int BLOCK = 16;
    /** Sectors per Cipher call: bounds the per-thread scratch memory (64 KiB tweaks). */
    private static final int CHUNK_SECTORS = 128;
    private static final VarHandle LONG_LE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final SecretKeySpec dataKey;
    private final SecretKeySpec tweakKey;
    private final ThreadLocal<Engine> engines = ThreadLocal.withInitial(this::newEngine);

    /**
     * @param key Key1 || Key2: 32 bytes (XTS-AES-128) or 64 bytes (XTS-AES-256). Equal halves
     *     are accepted here (IEEE vector 1 uses them); {@link VolumeKeys} refuses them for volumes.
     */
    public AesXts(byte[] key) {
        if (key.length != 32 && key.length != 64) {
            throw new IllegalArgumentException("XTS key must be 32 or 64 bytes, got " + key.length);
        }
        int half = key.length / 2;
        this.dataKey = new SecretKeySpec(key, 0, half, "AES");
        this.tweakKey = new SecretKeySpec(key, half, half, "AES");
    }

    /** Encrypts {@code len} bytes (whole sectors) of {@code buf} in place; the first is {@code sector}. */
    public void encrypt(long sector, byte[] buf, int off, int len) {
        engines.get().process(sector, buf, off, len, true);
    }

    /** Decrypts {@code len} bytes (whole sectors) of {@code buf} in place; the first is {@code sector}. */
    public void decrypt(long sector, byte[] buf, int off, int len) {
        engines.get().process(sector, buf, off, len, false);
    }

    private Engine newEngine() {
        try {
            Cipher tweak = Cipher.getInstance("AES/ECB/NoPadding");
            tweak.init(Cipher.ENCRYPT_MODE, tweakKey);
            Cipher enc = Cipher.getInstance("AES/ECB/NoPadding");
            enc.init(Cipher.ENCRYPT_MODE, dataKey);
            Cipher dec = Cipher.getInstance("AES/ECB/NoPadding");
            dec.init(Cipher.DECRYPT_MODE, dataKey);
            return new Engine(tweak, enc, dec);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/ECB/NoPadding unavailable", e);
        }
    }

    /** One thread's ciphers and scratch buffers. */
    private static final class Engine {
        private final Cipher tweakCipher;
        private final Cipher encCipher;
        private final Cipher decCipher;
        private final byte[] sectorNumbers = new byte[CHUNK_SECTORS * BLOCK];
        private final byte[] initialTweaks = new byte[CHUNK_SECTORS * BLOCK];
        private final byte[] tweaks = new byte[CHUNK_SECTORS * SECTOR_SIZE];

        Engine(Cipher tweakCipher, Cipher encCipher, Cipher decCipher) {
            this.tweakCipher = tweakCipher;
            this.encCipher = encCipher;
            this.decCipher = decCipher;
        }

        void process(long sector, byte[] buf, int off, int len, boolean encrypt) {
            if (len % SECTOR_SIZE != 0 || off < 0 || len < 0 || off + len > buf.length) {
                throw new IllegalArgumentException("XTS needs whole 512-byte sectors: off=" + off + " len=" + len);
            }
            Cipher data = encrypt ? encCipher : decCipher;
            try {
                for (int done = 0; done < len; ) {
                    int sectors = Math.min(CHUNK_SECTORS, (len - done) / SECTOR_SIZE);
                    int bytes = sectors * SECTOR_SIZE;
                    int at = off + done;
                    tweakAndMask(sector + done / SECTOR_SIZE, sectors, buf, at);
                    // ECB is copy-safe in place (Cipher#doFinal contract).
                    data.doFinal(buf, at, bytes, buf, at);
                    xorTweaks(buf, at, bytes);
                    done += bytes;
                }
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES-ECB failed", e);
            }
        }

        /**
         * tweaks[s*512 + j*16] = E_K2(plain64(first + s)) ⊗ α^j for every block j of sector s,
         * XORed into the data as it is computed (one pass over the buffer instead of two).
         */
        private void tweakAndMask(long first, int sectors, byte[] buf, int at) throws GeneralSecurityException {
            for (int s = 0; s < sectors; s++) {
                // plain64: the 64-bit sector number, little endian, zero-extended to 128 bits.
                LONG_LE.set(sectorNumbers, s * BLOCK, first + s);
                LONG_LE.set(sectorNumbers, s * BLOCK + 8, 0L);
            }
            tweakCipher.doFinal(sectorNumbers, 0, sectors * BLOCK, initialTweaks, 0);
            for (int s = 0; s < sectors; s++) {
                long lo = (long) LONG_LE.get(initialTweaks, s * BLOCK);
                long hi = (long) LONG_LE.get(initialTweaks, s * BLOCK + 8);
                int base = s * SECTOR_SIZE;
                for (int j = 0; j < SECTOR_SIZE / BLOCK; j++) {
                    int t = base + j * BLOCK;
                    LONG_LE.set(tweaks, t, lo);
                    LONG_LE.set(tweaks, t + 8, hi);
                    LONG_LE.set(buf, at + t, (long) LONG_LE.get(buf, at + t) ^ lo);
                    LONG_LE.set(buf, at + t + 8, (long) LONG_LE.get(buf, at + t + 8) ^ hi);
                    // Multiply by α (IEEE 1619 §5.2): shift the little-endian 128-bit value left
                    // by one; if bit 127 fell out, XOR 0x87 into the low byte.
                    long carry = hi >> 63; // all ones if bit 127 was set
                    hi = (hi << 1) | (lo >>> 63);
                    lo = (lo << 1) ^ (carry & 0x87L);
                }
            }
        }

        private void xorTweaks(byte[] buf, int at, int bytes) {
            for (int i = 0; i < bytes; i += 8) {
                LONG_LE.set(buf, at + i, (long) LONG_LE.get(buf, at + i) ^ (long) LONG_LE.get(tweaks, i));
            }
        }
    }
}
