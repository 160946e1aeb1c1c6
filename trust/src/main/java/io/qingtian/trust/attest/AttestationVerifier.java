package io.qingtian.trust.attest;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.cbor.CborDecoder;
import io.qingtian.trust.cose.CoseSign1;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.identity.Certificates;

import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks an attestation document the way a Nitro verifier does (AWS "Verifying the root of
 * trust"): (1) parse COSE_Sign1 and the payload strictly, (2) cabundle[0] is the pinned root,
 * (3) the chain root -> ... -> certificate validates (RFC 5280, PKIX, at {@code now}),
 * (4) the ES384 signature verifies with the certificate's key, (5) the timestamp lies in the
 * certificate's validity, (6) the nonce and the expected PCRs match. Every failure is a
 * {@link TrustException} with one line saying which check failed.
 */
public final class AttestationVerifier {
    /** Documents are small (a few KiB); anything bigger is refused before parsing. */
    public static final int MAX_DOCUMENT = 64 * 1024;

    private AttestationVerifier() {}

    public static AttestationDocument verify(byte[] document, X509Certificate root, byte[] expectedNonce,
                                             Map<Integer, byte[]> expectedPcrs, Instant now) throws TrustException {
        CoseSign1 cose = CoseSign1.decode(document, MAX_DOCUMENT);
        AttestationDocument doc = AttestationDocument.fromCbor(
                CborDecoder.decodeLenient(cose.payload(), CborDecoder.DEFAULT_MAX_DEPTH, MAX_DOCUMENT));

        byte[] rootDer;
        try {
            rootDer = root.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new TrustException("root certificate cannot be encoded");
        }
        if (!Arrays.equals(doc.cabundle().getFirst(), rootDer)) {
            throw new TrustException("attestation document: cabundle[0] is not the given root (unknown root of trust)");
        }
        X509Certificate leaf = Certificates.parseDer("attestation document: certificate", doc.certificate());
        List<X509Certificate> path = new ArrayList<>();
        path.add(leaf);
        for (int i = doc.cabundle().size() - 1; i >= 1; i--) {
            path.add(Certificates.parseDer("attestation document: cabundle[" + i + "]", doc.cabundle().get(i)));
        }
        validateChain(path, root, now);

        if (!cose.verify(leaf.getPublicKey())) {
            throw new TrustException("attestation document: COSE_Sign1 signature does not verify with the attestation certificate");
        }
        Instant ts = Instant.ofEpochMilli(doc.timestamp());
        if (ts.isBefore(leaf.getNotBefore().toInstant()) || ts.isAfter(leaf.getNotAfter().toInstant())) {
            throw new TrustException("attestation document: timestamp " + ts + " is outside the certificate's validity");
        }
        if (expectedNonce != null) {
            if (doc.nonce().isEmpty()) {
                throw new TrustException("attestation document: carries no nonce, expected " + Hex.of(expectedNonce));
            }
            if (!Arrays.equals(doc.nonce().get(), expectedNonce)) {
                throw new TrustException("attestation document: nonce " + Hex.of(doc.nonce().get())
                        + " differs from the expected " + Hex.of(expectedNonce));
            }
        }
        for (Map.Entry<Integer, byte[]> e : expectedPcrs.entrySet()) {
            byte[] actual = doc.pcrs().get(e.getKey());
            if (actual == null) {
                throw new TrustException("attestation document: has no PCR" + e.getKey());
            }
            if (!Arrays.equals(actual, e.getValue())) {
                throw new TrustException("attestation document: PCR" + e.getKey() + " is " + Hex.of(actual)
                        + ", expected " + Hex.of(e.getValue()));
            }
        }
        return doc;
    }

    private static void validateChain(List<X509Certificate> path, X509Certificate root, Instant now) throws TrustException {
        try {
            PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
            // The card has no CRL/OCSP service; validity windows are short instead.
            params.setRevocationEnabled(false);
            params.setDate(Date.from(now));
            CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(path), params);
        } catch (CertPathValidatorException e) {
            throw new TrustException("attestation document: certificate chain does not validate: " + e.getReason()
                    + (e.getMessage() == null ? "" : " (" + firstLine(e.getMessage()) + ")"));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new TrustException("attestation document: certificate chain cannot be checked: " + firstLine(e.getMessage()));
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
