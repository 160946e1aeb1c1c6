package io.qingtian.trust.crypto;

import io.qingtian.trust.TrustException;

import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;

/**
 * Ed25519 (RFC 8032) through the JDK: image-signing and release-signing keys. Signatures are the
 * raw 64 bytes ({@code openssl pkeyutl -sign -rawin} writes the same), over the exact file bytes.
 */
public final class Ed25519 {
    public static final int SIGNATURE_LENGTH = 64;

    private Ed25519() {}

    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no Ed25519", e);
        }
    }

    public static byte[] sign(PrivateKey key, byte[] message) throws TrustException {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(key);
            s.update(message);
            return s.sign();
        } catch (InvalidKeyException e) {
            throw new TrustException("not an Ed25519 private key: " + key.getAlgorithm());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    /** True iff {@code signature} is a valid Ed25519 signature of {@code message} by {@code key}. */
    public static boolean verify(PublicKey key, byte[] message, byte[] signature) {
        if (signature.length != SIGNATURE_LENGTH) {
            return false;
        }
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initVerify(key);
            s.update(message);
            return s.verify(signature);
        } catch (InvalidKeyException | SignatureException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 verification failed", e);
        }
    }

    public static PublicKey publicKey(String what, byte[] spkiDer) throws TrustException {
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spkiDer));
        } catch (InvalidKeySpecException | ClassCastException | IllegalArgumentException e) {
            throw new TrustException(what + ": not an Ed25519 public key (SubjectPublicKeyInfo)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public static PrivateKey privateKey(String what, byte[] pkcs8Der) throws TrustException {
        try {
            return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(pkcs8Der));
        } catch (InvalidKeySpecException | ClassCastException | IllegalArgumentException e) {
            throw new TrustException(what + ": not an Ed25519 private key (PKCS#8)");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
