package io.qingtian.trust.identity;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Pem;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

/**
 * X.509 v3 certificates (RFC 5280) of the card, built with BouncyCastle and signed by the JDK
 * (ecdsa-with-SHA384 on P-384, like Nitro's chain): a self-signed root (CA, keyCertSign) and
 * attestation certificates it issues (end entity, digitalSignature).
 */
public final class Certificates {
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Issued certificates start a little in the past: verifiers' clocks drift. */
    static final Duration BACKDATE = Duration.ofMinutes(5);

    private Certificates() {}

    public static KeyPair newP384() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp384r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no P-384", e);
        }
    }

    public static X509Certificate selfSignedRoot(KeyPair root, String commonName, Duration validity) {
        X500Name name = new X500Name("CN=" + commonName + ",O=QingTian-J");
        Instant now = Instant.now();
        return build(name, root.getPrivate(), root.getPublic(), name, root.getPublic(), now.minus(BACKDATE), now.plus(validity), true);
    }

    public static X509Certificate issue(X509Certificate issuer, PrivateKey issuerKey, PublicKey subjectKey,
                                        String commonName, Instant notBefore, Instant notAfter) {
        X500Name issuerName = X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
        return build(issuerName, issuerKey, issuer.getPublicKey(), new X500Name("CN=" + commonName + ",O=QingTian-J"),
                subjectKey, notBefore, notAfter, false);
    }

    private static X509Certificate build(X500Name issuer, PrivateKey issuerKey, PublicKey issuerPublic, X500Name subject,
                                         PublicKey subjectKey, Instant notBefore, Instant notAfter, boolean ca) {
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuer, new BigInteger(127, RANDOM).add(BigInteger.ONE),
                    Date.from(notBefore), Date.from(notAfter), subject, subjectKey);
            b.addExtension(Extension.basicConstraints, true, ca ? new BasicConstraints(0) : new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true,
                    new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign : KeyUsage.digitalSignature));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(subjectKey));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuerPublic));
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA384withECDSA").build(issuerKey)));
        } catch (CertIOException | OperatorCreationException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot build certificate", e);
        }
    }

    /** Parses one DER certificate; {@code what} names its origin in errors. */
    public static X509Certificate parseDer(String what, byte[] der) throws TrustException {
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            ByteArrayInputStream in = new ByteArrayInputStream(der);
            X509Certificate c = (X509Certificate) cf.generateCertificate(in);
            if (in.available() != 0) {
                throw new TrustException(what + ": trailing bytes after the certificate");
            }
            return c;
        } catch (CertificateException | RuntimeException e) {
            throw new TrustException(what + ": not a valid X.509 certificate");
        }
    }

    public static X509Certificate parsePem(String what, byte[] pem) throws TrustException {
        return parseDer(what, Pem.decode(what, "CERTIFICATE", pem));
    }

    public static String toPem(X509Certificate c) {
        try {
            return Pem.encode("CERTIFICATE", c.getEncoded());
        } catch (CertificateException e) {
            throw new IllegalStateException(e);
        }
    }
}
