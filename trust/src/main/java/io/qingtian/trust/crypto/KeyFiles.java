package io.qingtian.trust.crypto;

import io.qingtian.trust.TrustException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;

/**
 * Key files in the formats openssl uses: private keys are PKCS#8 PEM ("PRIVATE KEY") written
 * 0600, or the same DER wrapped under a passphrase ({@link PassphraseWrap}); public keys are
 * SubjectPublicKeyInfo PEM ("PUBLIC KEY").
 */
public final class KeyFiles {
    private static final long MAX_PUBLIC = 64 * 1024;

    private KeyFiles() {}

    /** Writes {@code key} 0600; wrapped when {@code passphrase} is non-null. */
    public static void writePrivate(Path file, PrivateKey key, char[] passphrase, boolean overwrite) throws TrustException {
        byte[] der = key.getEncoded();
        try {
            String pem = passphrase == null
                    ? Pem.encode("PRIVATE KEY", der)
                    : Pem.encode(PassphraseWrap.PEM_LABEL, PassphraseWrap.wrap(der, passphrase));
            SecretFiles.writePrivate(file, pem.getBytes(StandardCharsets.US_ASCII), overwrite);
        } finally {
            Arrays.fill(der, (byte) 0);
        }
    }

    /**
     * Reads a private key of {@code algorithm} ("Ed25519" or "EC"), refusing loose permissions.
     * A wrapped key needs {@code passphrase}; a plain key is accepted whatever the passphrase.
     */
    public static PrivateKey readPrivate(Path file, String algorithm, char[] passphrase) throws TrustException {
        byte[] bytes = SecretFiles.readPrivate(file);
        String what = file.toString();
        byte[] der;
        if (new String(bytes, StandardCharsets.US_ASCII).contains("-----BEGIN " + PassphraseWrap.PEM_LABEL + "-----")) {
            if (passphrase == null) {
                throw new TrustException(what + ": key is protected by a passphrase; none was given");
            }
            der = PassphraseWrap.unwrap(what, Pem.decode(what, PassphraseWrap.PEM_LABEL, bytes), passphrase);
        } else {
            der = Pem.decode(what, "PRIVATE KEY", bytes);
        }
        try {
            return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (InvalidKeySpecException | ClassCastException | IllegalArgumentException e) {
            throw new TrustException(what + ": not a " + algorithm + " private key (PKCS#8)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        } finally {
            Arrays.fill(der, (byte) 0);
        }
    }

    public static void writePublic(Path file, PublicKey key, boolean overwrite) throws TrustException {
        SecretFiles.writeAtomically(file, Pem.encode("PUBLIC KEY", key.getEncoded()).getBytes(StandardCharsets.US_ASCII),
                PosixFilePermissions.fromString("rw-r--r--"), overwrite);
    }

    public static PublicKey readPublic(Path file, String algorithm) throws TrustException {
        String what = file.toString();
        byte[] bytes = readSmall(file, MAX_PUBLIC);
        byte[] der = Pem.decode(what, "PUBLIC KEY", bytes);
        try {
            return KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der));
        } catch (InvalidKeySpecException | ClassCastException | IllegalArgumentException e) {
            throw new TrustException(what + ": not a " + algorithm + " public key (SubjectPublicKeyInfo)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a whole file that must be small (keys, certificates, signatures, manifests). */
    public static byte[] readSmall(Path file, long max) throws TrustException {
        try {
            if (!Files.isRegularFile(file)) {
                throw new TrustException(file + ": no such file");
            }
            long size = Files.size(file);
            if (size > max) {
                throw new TrustException(file + ": too large (" + size + " bytes, at most " + max + ")");
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new TrustException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
