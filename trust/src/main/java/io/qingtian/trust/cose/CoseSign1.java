package io.qingtian.trust.cose;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.cbor.CborDecoder;
import io.qingtian.trust.cbor.CborEncoder;
import io.qingtian.trust.cbor.CborException;
import io.qingtian.trust.cbor.CborItem;

import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.ECKey;
import java.util.List;

/**
 * COSE_Sign1 (RFC 9052 §4.2) with ES384 only (RFC 9053 §2.1: ECDSA on P-384 with SHA-384, the
 * signature being r||s, 48 bytes each, not DER) — the envelope of Nitro/QingTian attestation
 * documents:
 * <pre>
 * COSE_Sign1 = [ protected: bstr .cbor {1: -35}, unprotected: {}, payload: bstr, signature: bstr(96) ]
 * Sig_structure = [ "Signature1", protected, external_aad: h'', payload ]     (§4.4)
 * </pre>
 * Decoding accepts the array either untagged (as Nitro emits it) or with tag 18 (§2).
 */
public record CoseSign1(byte[] protectedHeader, CborItem.CborMap unprotectedHeader, byte[] payload, byte[] signature) {
    public static final int TAG = 18;
    public static final long HEADER_ALG = 1;
    public static final long ALG_ES384 = -35;
    public static final int ES384_SIGNATURE_LENGTH = 96;
    /** What the JDK calls ECDSA with SHA-384 producing and taking raw r||s (IEEE P1363). */
    private static final String JCA_ES384 = "SHA384withECDSAinP1363Format";

    public CoseSign1 {
        protectedHeader = protectedHeader.clone();
        payload = payload.clone();
        signature = signature.clone();
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    @Override
    public byte[] protectedHeader() {
        return protectedHeader.clone();
    }

    @Override
    public byte[] signature() {
        return signature.clone();
    }

    /** Signs {@code payload} with an ES384 key (a P-384 private key). */
    public static CoseSign1 sign(byte[] payload, PrivateKey key) throws TrustException {
        requireP384(key, "signing key");
        byte[] prot = CborEncoder.encode(CborItem.CborMap.builder().put(HEADER_ALG, CborItem.integer(ALG_ES384)).build());
        try {
            Signature s = Signature.getInstance(JCA_ES384);
            s.initSign(key);
            s.update(sigStructure(prot, payload));
            return new CoseSign1(prot, CborItem.CborMap.builder().build(), payload, s.sign());
        } catch (InvalidKeyException e) {
            throw new TrustException("COSE_Sign1: signing key is not an ECDSA P-384 key");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ES384 signing failed", e);
        }
    }

    public byte[] encode() {
        return CborEncoder.encode(new CborItem.Array(List.of(
                CborItem.bytes(protectedHeader), unprotectedHeader, CborItem.bytes(payload), CborItem.bytes(signature))));
    }

    /** Parses a COSE_Sign1 strictly; the signature is not checked here (see {@link #verify}). */
    public static CoseSign1 decode(byte[] bytes, int maxInput) throws TrustException {
        CborItem top = CborDecoder.decode(bytes, CborDecoder.DEFAULT_MAX_DEPTH, maxInput);
        if (top instanceof CborItem.Tag t) {
            if (t.tag() != TAG) {
                throw new TrustException("COSE_Sign1: unexpected CBOR tag " + Long.toUnsignedString(t.tag()) + " (expected 18 or none)");
            }
            top = t.content();
        }
        if (!(top instanceof CborItem.Array a) || a.items().size() != 4) {
            throw new TrustException("COSE_Sign1: not an array of 4 elements");
        }
        if (!(a.items().get(0) instanceof CborItem.Bytes prot)) {
            throw new TrustException("COSE_Sign1: protected header is not a byte string");
        }
        if (!(a.items().get(1) instanceof CborItem.CborMap unprot)) {
            throw new TrustException("COSE_Sign1: unprotected header is not a map");
        }
        if (!(a.items().get(2) instanceof CborItem.Bytes payload)) {
            throw new TrustException("COSE_Sign1: payload is not a byte string (detached payloads are not accepted)");
        }
        if (!(a.items().get(3) instanceof CborItem.Bytes sig)) {
            throw new TrustException("COSE_Sign1: signature is not a byte string");
        }
        // §3: the protected header is a bstr holding a CBOR map; we require exactly {1: -35}.
        CborItem header = prot.length() == 0 ? null : decodeHeader(prot.value());
        if (!(header instanceof CborItem.CborMap h) || !(h.get(HEADER_ALG) instanceof CborItem.Int alg)) {
            throw new TrustException("COSE_Sign1: protected header has no algorithm");
        }
        if (alg.value() != ALG_ES384) {
            throw new TrustException("COSE_Sign1: algorithm " + alg.value() + " is not ES384 (-35)");
        }
        if (unprot.get(HEADER_ALG) != null) {
            throw new TrustException("COSE_Sign1: algorithm must not appear in the unprotected header");
        }
        if (sig.length() != ES384_SIGNATURE_LENGTH) {
            throw new TrustException("COSE_Sign1: ES384 signature must be 96 bytes, found " + sig.length());
        }
        return new CoseSign1(prot.value(), unprot, payload.value(), sig.value());
    }

    private static CborItem decodeHeader(byte[] b) throws TrustException {
        try {
            return CborDecoder.decode(b, 4, 4096);
        } catch (CborException e) {
            throw new TrustException("COSE_Sign1: protected header: " + e.getMessage());
        }
    }

    /** True iff the ES384 signature verifies with {@code key} (a P-384 public key). */
    public boolean verify(PublicKey key) throws TrustException {
        requireP384(key, "verification key");
        try {
            Signature s = Signature.getInstance(JCA_ES384);
            s.initVerify(key);
            s.update(sigStructure(protectedHeader, payload));
            return s.verify(signature);
        } catch (InvalidKeyException e) {
            throw new TrustException("COSE_Sign1: verification key is not an ECDSA P-384 key");
        } catch (SignatureException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("ES384 verification failed", e);
        }
    }

    /** RFC 9052 §4.4 Sig_structure for COSE_Sign1 with empty external_aad. */
    static byte[] sigStructure(byte[] protectedHeader, byte[] payload) {
        return CborEncoder.encode(new CborItem.Array(List.of(
                CborItem.text("Signature1"), CborItem.bytes(protectedHeader), CborItem.bytes(new byte[0]), CborItem.bytes(payload))));
    }

    private static void requireP384(java.security.Key key, String what) throws TrustException {
        if (!(key instanceof ECKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 384) {
            throw new TrustException("COSE_Sign1: " + what + " is not an ECDSA P-384 key");
        }
    }
}
