package io.qingtian.trust.crypto;

import io.qingtian.trust.TrustException;

import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * Wraps a private key (PKCS#8 DER) under an operator passphrase: PBKDF2-HMAC-SHA256 (NIST SP
 * 800-132; 600,000 iterations per OWASP 2023) derives an AES-256 key, AES-GCM (SP 800-38D)
 * encrypts with a random 96-bit IV; the header is the additional authenticated data, so the
 * iteration count and salt cannot be altered. Layout:
 * {@code "QTW1" | iterations u32 BE | salt[16] | iv[12] | ciphertext || tag[16]}.
 */
public final class PassphraseWrap {
    public static final String PEM_LABEL = "QINGTIAN WRAPPED PRIVATE KEY";
    public static final int ITERATIONS = 600_000;
    private static final byte[] MAGIC = {'Q', 'T', 'W', '1'};
    private static final int HEADER = 4 + 4 + 16 + 12;
    /** Refuse absurd iteration counts in a file (a hostile file must not stall the card). */
    private static final int MAX_ITERATIONS = 10_000_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private PassphraseWrap() {}

    public static byte[] wrap(byte[] secret, char[] passphrase) {
        return wrap(secret, passphrase, ITERATIONS);
    }

    static byte[] wrap(byte[] secret, char[] passphrase, int iterations) {
        byte[] salt = new byte[16];
        byte[] iv = new byte[12];
        RANDOM.nextBytes(salt);
        RANDOM.nextBytes(iv);
        ByteBuffer header = ByteBuffer.allocate(HEADER).put(MAGIC).putInt(iterations).put(salt).put(iv);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, derive(passphrase, salt, iterations), new GCMParameterSpec(128, iv));
            c.updateAAD(header.array());
            byte[] ct = c.doFinal(secret);
            return ByteBuffer.allocate(HEADER + ct.length).put(header.array()).put(ct).array();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        }
    }

    public static byte[] unwrap(String what, byte[] wrapped, char[] passphrase) throws TrustException {
        if (wrapped.length < HEADER + 16 || !Arrays.equals(wrapped, 0, 4, MAGIC, 0, 4)) {
            throw new TrustException(what + ": not a QingTian wrapped key");
        }
        ByteBuffer b = ByteBuffer.wrap(wrapped);
        b.position(4);
        int iterations = b.getInt();
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new TrustException(what + ": implausible PBKDF2 iteration count " + Integer.toUnsignedString(iterations));
        }
        byte[] salt = Arrays.copyOfRange(wrapped, 8, 24);
        byte[] iv = Arrays.copyOfRange(wrapped, 24, 36);
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, derive(passphrase, salt, iterations), new GCMParameterSpec(128, iv));
            c.updateAAD(wrapped, 0, HEADER);
            return c.doFinal(wrapped, HEADER, wrapped.length - HEADER);
        } catch (AEADBadTagException e) {
            throw new TrustException(what + ": wrong passphrase (or the key file was altered)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        }
    }

    private static SecretKeySpec derive(char[] passphrase, byte[] salt, int iterations) throws GeneralSecurityException {
        PBEKeySpec spec = new PBEKeySpec(passphrase, salt, iterations, 256);
        try {
            byte[] k = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            return new SecretKeySpec(k, "AES");
        } finally {
            spec.clearPassword();
        }
    }
}
