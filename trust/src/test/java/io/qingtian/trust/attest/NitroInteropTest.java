package io.qingtian.trust.attest;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.identity.Certificates;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A real peer: a genuine AWS Nitro Enclaves attestation document (issued 2024-09-17 by an NSM in
 * us-east-1, published as sample data in a public tlsn-js demo) verified by our verifier against the
 * AWS Nitro root (pinned by its published SHA-256 fingerprint) at the document's own time, since its
 * certificates have long expired. It exercises our CBOR, COSE, payload and PKIX logic against bytes
 * we did not produce.
 */
class NitroInteropTest {
    static final String AWS_ROOT_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";

    /**
     * The sample documents are public data taken from other repositories, which this workplace
     * keeps out of the project's commits: they are read from {@code $QT_NITRO_SAMPLES} or from
     * {@code shared/data/nitro/} in a folder above the working directory, and the tests are
     * skipped (with that reason) when they are absent.
     */
    static byte[] resource(String name) throws IOException {
        Path file = samples().resolve(name);
        Assumptions.assumeTrue(Files.isRegularFile(file),
                "AWS Nitro sample " + name + " not found (set QT_NITRO_SAMPLES or provide shared/data/nitro/)");
        try (InputStream in = Files.newInputStream(file)) {
            return Base64.getMimeDecoder().decode(new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip());
        }
    }

    private static Path samples() {
        String env = System.getenv("QT_NITRO_SAMPLES");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared/data/nitro");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        return Path.of("shared/data/nitro");
    }

    static X509Certificate awsRoot() throws Exception {
        byte[] der = resource("aws-nitro-root.b64");
        assertThat(Hex.of(MessageDigest.getInstance("SHA-256").digest(der))).isEqualTo(AWS_ROOT_SHA256);
        return Certificates.parseDer("aws root", der);
    }

    @Test
    void genuineNitroDocumentVerifies() throws Exception {
        byte[] doc = resource("aws-nitro-2024-09-17.cose.b64");
        byte[] nonce = Hex.parse("nonce", "0000000000000000000000000000000000000001");
        // 2024-09-17T04:3x: the document's timestamp, inside the leaf's 3-hour validity.
        AttestationDocument peek = AttestationDocument.fromCbor(io.qingtian.trust.cbor.CborDecoder.decode(
                io.qingtian.trust.cose.CoseSign1.decode(doc, 1 << 16).payload()));
        Instant at = Instant.ofEpochMilli(peek.timestamp());
        AttestationDocument d = AttestationVerifier.verify(doc, awsRoot(), nonce, Map.of(0, new byte[48]), at);
        assertThat(d.moduleId()).startsWith("i-0bbf1bfe232b8c2ce-enc");
        assertThat(d.cabundle()).hasSize(4);
        assertThat(d.pcrs()).hasSize(16);
        assertThat(d.publicKey()).isPresent();
        assertThat(d.userData()).isPresent();
    }

    @Test
    void genuineNitroDocumentWithIndefiniteLengthPayloadVerifies() throws Exception {
        // 2026-02-02, us-east-2: this NSM encodes the payload as an indefinite-length map (0xbf ... 0xff).
        byte[] doc = resource("aws-nitro-2026-02-02-indefinite.cose.b64");
        byte[] nonce = Hex.parse("nonce", "0123456789abcdef0123456789abcdef01234567");
        AttestationDocument d = AttestationVerifier.verify(doc, awsRoot(), nonce,
                Map.of(3, new byte[48]), Instant.parse("2026-02-02T21:00:00Z"));
        assertThat(d.moduleId()).startsWith("i-0340e0cb833504eb6-enc");
        assertThat(Hex.of(d.pcrs().get(1))).startsWith("4b4d5b3661b3efc12920900c80e126e4");
    }

    @Test
    void genuineNitroDocumentIsRefusedWhenExpiredTamperedOrWithOtherNonce() throws Exception {
        byte[] doc = resource("aws-nitro-2024-09-17.cose.b64");
        X509Certificate root = awsRoot();
        byte[] nonce = Hex.parse("nonce", "0000000000000000000000000000000000000001");
        Instant at = Instant.parse("2024-09-17T05:00:00Z");
        assertThatThrownBy(() -> AttestationVerifier.verify(doc, root, nonce, Map.of(), Instant.now()))
                .isInstanceOf(TrustException.class).hasMessageContaining("certificate chain does not validate");
        assertThatThrownBy(() -> AttestationVerifier.verify(doc, root, new byte[20], Map.of(), at))
                .hasMessageContaining("nonce");
        byte[] flipped = doc.clone();
        flipped[flipped.length - 10] ^= 0x04;
        assertThatThrownBy(() -> AttestationVerifier.verify(flipped, root, nonce, Map.of(), at))
                .hasMessageContaining("signature does not verify");
    }
}
