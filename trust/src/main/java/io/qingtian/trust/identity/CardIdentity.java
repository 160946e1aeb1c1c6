package io.qingtian.trust.identity;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.SecretFiles;
import io.qingtian.trust.crypto.Sha384;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;

/**
 * Who the card is. On first start it generates a P-384 root key ({@code STATE/keys/card-root.key},
 * 0600 in a 0700 directory, PKCS#8 PEM, wrapped under the operator passphrase if one is given)
 * and a self-signed root certificate ({@code STATE/keys/card-root.crt}: this is what tenants pin).
 * Every start (every {@code loadOrCreate}) makes a fresh attestation key that never touches disk,
 * certified by the root for {@link #ATTESTATION_VALIDITY}: a stolen document signer dies with the
 * process.
 */
public final class CardIdentity {
    public static final String KEYS_DIR = "keys";
    public static final String ROOT_KEY = "card-root.key";
    public static final String ROOT_CERT = "card-root.crt";
    public static final Duration ROOT_VALIDITY = Duration.ofDays(20 * 365);
    public static final Duration ATTESTATION_VALIDITY = Duration.ofDays(30);

    /** The per-boot signing key and its certificate (root -> attestation). */
    public record AttestationKey(PrivateKey privateKey, X509Certificate certificate) {}

    private final PrivateKey rootKey;
    private final X509Certificate rootCert;
    private final Path stateDir;
    private volatile AttestationKey attestation;

    private CardIdentity(Path stateDir, PrivateKey rootKey, X509Certificate rootCert) {
        this.stateDir = stateDir;
        this.rootKey = rootKey;
        this.rootCert = rootCert;
        this.attestation = newAttestationKey();
    }

    /**
     * Loads the card identity from {@code stateDir}, creating it on first start. {@code passphrase}
     * (may be null) wraps a new root key and is required to load a wrapped one.
     */
    public static CardIdentity loadOrCreate(Path stateDir, char[] passphrase) throws TrustException {
        Path keys = stateDir.resolve(KEYS_DIR);
        SecretFiles.ensurePrivateDir(keys);
        Path keyFile = keys.resolve(ROOT_KEY);
        Path certFile = keys.resolve(ROOT_CERT);
        if (!Files.exists(keyFile)) {
            KeyPair kp = Certificates.newP384();
            X509Certificate cert = Certificates.selfSignedRoot(kp, "QingTian card root " + cardId(kp.getPublic().getEncoded()),
                    ROOT_VALIDITY);
            KeyFiles.writePrivate(keyFile, kp.getPrivate(), passphrase, false);
            SecretFiles.writeAtomically(certFile, Certificates.toPem(cert).getBytes(StandardCharsets.US_ASCII),
                    PosixFilePermissions.fromString("rw-r--r--"), true);
            return new CardIdentity(stateDir, kp.getPrivate(), cert);
        }
        PrivateKey key = KeyFiles.readPrivate(keyFile, "EC", passphrase);
        X509Certificate cert = Certificates.parsePem(certFile.toString(), KeyFiles.readSmall(certFile, 64 * 1024));
        // The certificate is public and could be swapped: it must carry the key we hold.
        KeyPair probe = new KeyPair(cert.getPublicKey(), key);
        if (!matches(probe)) {
            throw new TrustException(certFile + ": certificate does not belong to " + keyFile);
        }
        return new CardIdentity(stateDir, key, cert);
    }

    private static boolean matches(KeyPair kp) {
        try {
            byte[] msg = "qingtian key match".getBytes(StandardCharsets.US_ASCII);
            java.security.Signature s = java.security.Signature.getInstance("SHA384withECDSA");
            s.initSign(kp.getPrivate());
            s.update(msg);
            byte[] sig = s.sign();
            s.initVerify(kp.getPublic());
            s.update(msg);
            return s.verify(sig);
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    public X509Certificate rootCertificate() {
        return rootCert;
    }

    public Path rootCertificateFile() {
        return stateDir.resolve(KEYS_DIR).resolve(ROOT_CERT);
    }

    /** Stable card id: the first 8 bytes of SHA-384 over the root's SubjectPublicKeyInfo, hex. */
    public String cardId() {
        return cardId(rootCert.getPublicKey().getEncoded());
    }

    private static String cardId(byte[] spki) {
        return Hex.of(Arrays.copyOf(Sha384.of(spki), 8));
    }

    /** The current attestation key; renewed automatically a day before its certificate expires. */
    public AttestationKey attestationKey() {
        AttestationKey a = attestation;
        if (a.certificate().getNotAfter().toInstant().isBefore(Instant.now().plus(Duration.ofDays(1)))) {
            synchronized (this) {
                a = attestation = newAttestationKey();
            }
        }
        return a;
    }

    private AttestationKey newAttestationKey() {
        KeyPair kp = Certificates.newP384();
        Instant now = Instant.now();
        X509Certificate cert = Certificates.issue(rootCert, rootKey, kp.getPublic(),
                "QingTian card " + cardId() + " attestation", now.minus(Certificates.BACKDATE), now.plus(ATTESTATION_VALIDITY));
        return new AttestationKey(kp.getPrivate(), cert);
    }
}
