package io.qingtian.trust.attest;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.cbor.CborEncoder;
import io.qingtian.trust.cose.CoseSign1;
import io.qingtian.trust.identity.CardIdentity;
import io.qingtian.trust.measure.PcrBank;

import java.security.cert.CertificateEncodingException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Issues attestation documents for one instance: its PCRs, signed by the card's current
 * attestation key. Thread-safe (the PCR bank is only read, and only after launch).
 */
public final class Attestor {
    private final CardIdentity identity;
    private final String moduleId;
    private final PcrBank pcrs;
    private final Clock clock;

    public Attestor(CardIdentity identity, String moduleId, PcrBank pcrs) {
        this(identity, moduleId, pcrs, Clock.systemUTC());
    }

    public Attestor(CardIdentity identity, String moduleId, PcrBank pcrs, Clock clock) {
        this.identity = identity;
        this.moduleId = moduleId;
        this.pcrs = pcrs;
        this.clock = clock;
    }

    /**
     * The COSE_Sign1 bytes of a document carrying {@code nonce}, {@code userData} and
     * {@code publicKey} (each null or at most 1024 bytes).
     */
    public byte[] document(byte[] nonce, byte[] userData, byte[] publicKey) throws TrustException {
        check("nonce", nonce);
        check("user data", userData);
        check("public key", publicKey);
        CardIdentity.AttestationKey key = identity.attestationKey();
        AttestationDocument doc;
        try {
            doc = new AttestationDocument(moduleId, clock.millis(), AttestationDocument.DIGEST_SHA384,
                    new TreeMap<>(pcrs.snapshot()), key.certificate().getEncoded(),
                    List.of(identity.rootCertificate().getEncoded()),
                    Optional.ofNullable(publicKey), Optional.ofNullable(userData), Optional.ofNullable(nonce));
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
        return CoseSign1.sign(CborEncoder.encode(doc.toCbor()), key.privateKey()).encode();
    }

    private static void check(String what, byte[] b) throws TrustException {
        if (b != null && b.length > AttestationDocument.MAX_OPTIONAL_FIELD) {
            throw new TrustException(what + " is " + b.length + " bytes; at most "
                    + AttestationDocument.MAX_OPTIONAL_FIELD + " are allowed");
        }
    }
}
