package io.qingtian.card.crypto;

import io.qingtian.card.fs.Durable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Set;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The card's master key: the software stand-in for the key store of the card's hardware
 * root of trust. It never leaves the card; volume keys are stored only wrapped by it
 * (AES-256-GCM, a fresh 96-bit nonce per wrap, the volume name as associated data so a wrapped
 * key cannot be moved to another volume's metadata).
 *
 * <p>Kept in {@code keys/master.key} (32 raw bytes, mode 0600, directory 0700). On real card
 * hardware this file would be replaced by a sealed key that never exists in host memory; the
 * wrap/unwrap interface stays the same.
 */
public final class MasterKey {
    public static final String FILE_NAME = "master.key";
    private static final int KEY_BYTES = 32;
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final SecretKeySpec key;

    private MasterKey(byte[] raw) {
        this.key = new SecretKeySpec(raw, "AES");
    }

    /** Loads {@code keysDir/master.key}, creating the directory and a fresh key on first use. */
    public static MasterKey loadOrCreate(Path keysDir) throws IOException {
        if (!Files.isDirectory(keysDir)) {
            Files.createDirectories(keysDir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Path file = keysDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            byte[] raw = new byte[KEY_BYTES];
            RANDOM.nextBytes(raw);
            Path tmp = keysDir.resolve(FILE_NAME + ".tmp");
            Files.deleteIfExists(tmp);
            try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
                ch.write(ByteBuffer.wrap(raw));
                ch.force(true);
            }
            try {
                Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException e) {
                Files.deleteIfExists(tmp);
            }
            Durable.syncDirectory(keysDir);
        }
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
        if (perms.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
            throw new IOException(file + " must not be readable by group or others (is "
                    + PosixFilePermissions.toString(perms) + "); chmod 600 it");
        }
        byte[] raw = Files.readAllBytes(file);
        if (raw.length != KEY_BYTES) {
            throw new IOException(file + " is corrupt: " + raw.length + " bytes, expected " + KEY_BYTES);
        }
        return new MasterKey(raw);
    }

    /** Wraps a volume key for storage in that volume's metadata: base64(nonce || ciphertext || tag). */
    public String wrap(String volumeName, byte[] volumeKey) {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try {
            Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
            gcm.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            gcm.updateAAD(aad(volumeName));
            byte[] sealed = gcm.doFinal(volumeKey);
            byte[] out = Arrays.copyOf(nonce, NONCE_BYTES + sealed.length);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM unavailable", e);
        }
    }

    /** Unwraps a key made by {@link #wrap}; fails if it was altered or belongs to another volume. */
    public byte[] unwrap(String volumeName, String wrapped) throws GeneralSecurityException {
        byte[] in;
        try {
            in = Base64.getDecoder().decode(wrapped);
        } catch (IllegalArgumentException e) {
            throw new GeneralSecurityException("wrapped key is not base64", e);
        }
        if (in.length < NONCE_BYTES + TAG_BITS / 8) {
            throw new GeneralSecurityException("wrapped key is truncated");
        }
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        gcm.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
        gcm.updateAAD(aad(volumeName));
        return gcm.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES);
    }

    private static byte[] aad(String volumeName) {
        return ("qingtian-volume-key:" + volumeName).getBytes(StandardCharsets.UTF_8);
    }
}
