package io.qingtian.trust.attest;

import io.qingtian.trust.Openssl;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.cbor.CborDecoder;
import io.qingtian.trust.cbor.CborItem;
import io.qingtian.trust.cose.CoseSign1;
import io.qingtian.trust.identity.CardIdentity;
import io.qingtian.trust.measure.MeasuredBoot;
import io.qingtian.trust.measure.PcrBank;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AttestationTest {
    static Path state;
    static CardIdentity card;
    static PcrBank pcrs;
    static byte[] doc;
    static final byte[] NONCE = {1, 2, 3, 4, 5, 6, 7, 8};
    static final byte[] USER_DATA = "hello tenant".getBytes();

    @BeforeAll
    static void issue() throws Exception {
        state = Files.createTempDirectory("qt-attest");
        card = CardIdentity.loadOrCreate(state, null);
        pcrs = new MeasuredBoot().hypervisor(new byte[48], "test build")
                .kernel(MemorySegment.ofArray("kernel".getBytes()), "kernel").cmdline("console=ttyS0").pcrs();
        doc = new Attestor(card, "qt-card-test/vm1", pcrs).document(NONCE, USER_DATA, null);
    }

    static AttestationDocument verify(byte[] d, byte[] nonce, Map<Integer, byte[]> expected) throws TrustException {
        return AttestationVerifier.verify(d, card.rootCertificate(), nonce, expected, Instant.now());
    }

    @Test
    void documentVerifiesAndCarriesNitroFields() throws Exception {
        AttestationDocument d = verify(doc, NONCE, Map.of(1, pcrs.value(1), 3, pcrs.value(3)));
        assertThat(d.moduleId()).isEqualTo("qt-card-test/vm1");
        assertThat(d.digest()).isEqualTo("SHA384");
        assertThat(d.pcrs()).hasSize(16);
        assertThat(d.userData()).hasValueSatisfying(u -> assertThat(u).isEqualTo(USER_DATA));
        assertThat(d.publicKey()).isEmpty();
        assertThat(Instant.ofEpochMilli(d.timestamp())).isBetween(Instant.now().minusSeconds(600), Instant.now());
        // Wire shape: untagged [bstr, {}, bstr, bstr(96)], payload a map keyed by the Nitro names.
        CborItem.Array top = (CborItem.Array) CborDecoder.decode(doc);
        assertThat(top.items()).hasSize(4);
        assertThat(((CborItem.Bytes) top.items().get(0)).value()).containsExactly(0xa1, 0x01, 0x38, 0x22);
        assertThat(((CborItem.Bytes) top.items().get(3)).length()).isEqualTo(96);
        CborItem.CborMap payload = (CborItem.CborMap) CborDecoder.decode(((CborItem.Bytes) top.items().get(2)).value());
        assertThat(payload.entries()).extracting(e -> ((CborItem.Text) e.getKey()).value())
                .containsExactlyInAnyOrder("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
                        "public_key", "user_data", "nonce");
        assertThat(payload.get("public_key")).isEqualTo(CborItem.Simple.NULL);
    }

    @Property(tries = 400)
    void anySingleBitFlipIsRefused(@ForAll @IntRange(min = 0, max = Integer.MAX_VALUE) int position) {
        int bit = position % (doc.length * 8);
        byte[] flipped = doc.clone();
        flipped[bit / 8] ^= (byte) (1 << (bit % 8));
        assertThatThrownBy(() -> verify(flipped, NONCE, Map.of())).isInstanceOf(TrustException.class);
    }

    @Test
    void everyBitFlipInTheEnvelopeAndSignatureIsRefused() {
        // The first 20 bytes (array and headers) and the last 96 (signature), exhaustively.
        for (int i = 0; i < doc.length; i++) {
            if (i >= 20 && i < doc.length - 96) {
                continue;
            }
            for (int b = 0; b < 8; b++) {
                byte[] flipped = doc.clone();
                flipped[i] ^= (byte) (1 << b);
                assertThatThrownBy(() -> verify(flipped, NONCE, Map.of())).as("byte %d bit %d", i, b)
                        .isInstanceOf(TrustException.class);
            }
        }
    }

    @Test
    void wrongNonceIsRefused() {
        assertThatThrownBy(() -> verify(doc, new byte[] {1, 2, 3, 4, 5, 6, 7, 9}, Map.of()))
                .hasMessageContaining("nonce 0102030405060708 differs from the expected 0102030405060709");
    }

    @Test
    void documentWithoutNonceIsRefusedWhenOneIsExpected() throws Exception {
        byte[] noNonce = new Attestor(card, "m", pcrs).document(null, null, null);
        assertThatThrownBy(() -> verify(noNonce, NONCE, Map.of())).hasMessageContaining("carries no nonce");
    }

    @Test
    void wrongPcrIsRefused() {
        byte[] wrong = pcrs.value(1);
        wrong[0] ^= 1;
        assertThatThrownBy(() -> verify(doc, NONCE, Map.of(1, wrong))).hasMessageContaining("PCR1 is");
        assertThatThrownBy(() -> verify(doc, NONCE, Map.of(20, new byte[48]))).hasMessageContaining("has no PCR20");
    }

    @Test
    void unknownRootIsRefused() throws Exception {
        CardIdentity other = CardIdentity.loadOrCreate(Files.createTempDirectory("qt-other"), null);
        assertThatThrownBy(() -> AttestationVerifier.verify(doc, other.rootCertificate(), NONCE, Map.of(), Instant.now()))
                .hasMessageContaining("unknown root");
    }

    @Test
    void documentSignedByAnotherCardsKeyButClaimingOurRootIsRefused() throws Exception {
        // An attacker with their own card re-signs a document whose cabundle names our root.
        CardIdentity attacker = CardIdentity.loadOrCreate(Files.createTempDirectory("qt-attacker"), null);
        CoseSign1 ours = CoseSign1.decode(doc, 1 << 16);
        AttestationDocument d = AttestationDocument.fromCbor(CborDecoder.decode(ours.payload()));
        AttestationDocument forged = new AttestationDocument(d.moduleId(), d.timestamp(), d.digest(), d.pcrs(),
                attacker.attestationKey().certificate().getEncoded(), d.cabundle(), d.publicKey(), d.userData(), d.nonce());
        byte[] forgedDoc = CoseSign1.sign(io.qingtian.trust.cbor.CborEncoder.encode(forged.toCbor()),
                attacker.attestationKey().privateKey()).encode();
        assertThatThrownBy(() -> verify(forgedDoc, NONCE, Map.of())).hasMessageContaining("certificate chain does not validate");
    }

    @Test
    void expiredAttestationCertificateIsRefused() {
        Instant later = Instant.now().plus(CardIdentity.ATTESTATION_VALIDITY).plus(Duration.ofDays(1));
        assertThatThrownBy(() -> AttestationVerifier.verify(doc, card.rootCertificate(), NONCE, Map.of(), later))
                .hasMessageContaining("certificate chain does not validate");
    }

    @Test
    void malformedDocumentsAreClearErrors() {
        for (byte[] junk : List.of(new byte[0], new byte[] {(byte) 0x84}, "not cbor at all".getBytes(),
                Arrays.copyOf(doc, doc.length - 1), Arrays.copyOf(doc, doc.length + 1), new byte[70000])) {
            assertThatThrownBy(() -> verify(junk, NONCE, Map.of())).isInstanceOf(TrustException.class)
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n").isNotBlank());
        }
    }

    @Test
    void signedButMalformedPayloadsAreRefusedWithTheField() throws Exception {
        CoseSign1 ours = CoseSign1.decode(doc, 1 << 16);
        CborItem.CborMap good = (CborItem.CborMap) CborDecoder.decode(ours.payload());
        Object[][] cases = {
                {"digest", CborItem.text("SHA256"), "is not SHA384"},
                {"module_id", CborItem.integer(1), "module_id must be a text string"},
                {"timestamp", CborItem.integer(-5), "timestamp"},
                {"pcrs", CborItem.CborMap.builder().put(1, CborItem.bytes(new byte[32])).build(), "PCR1 must be 48 bytes"},
                {"pcrs", CborItem.CborMap.builder().put(40, CborItem.bytes(new byte[48])).build(), "0..31"},
                {"cabundle", new CborItem.Array(List.of()), "cabundle"},
                {"nonce", CborItem.bytes(new byte[1025]), "nonce must be a byte string"},
                {"user_data", CborItem.text("x"), "user_data"},
                {"extra", CborItem.integer(1), "unexpected field"},
        };
        for (Object[] c : cases) {
            CborItem.CborMap.Builder b = CborItem.CborMap.builder();
            boolean replaced = false;
            for (var e : good.entries()) {
                if (e.getKey().equals(CborItem.text((String) c[0]))) {
                    b.put(e.getKey(), (CborItem) c[1]);
                    replaced = true;
                } else {
                    b.put(e.getKey(), e.getValue());
                }
            }
            if (!replaced) {
                b.put((String) c[0], (CborItem) c[1]);
            }
            byte[] bad = CoseSign1.sign(io.qingtian.trust.cbor.CborEncoder.encode(b.build()),
                    card.attestationKey().privateKey()).encode();
            assertThatThrownBy(() -> verify(bad, null, Map.of())).as((String) c[2]).isInstanceOf(TrustException.class)
                    .hasMessageContaining((String) c[2]);
        }
        byte[] notAMap = CoseSign1.sign(new byte[] {0x01}, card.attestationKey().privateKey()).encode();
        assertThatThrownBy(() -> verify(notAMap, null, Map.of())).hasMessageContaining("payload is not a CBOR map");
        byte[] garbage = CoseSign1.sign(new byte[] {(byte) 0xff}, card.attestationKey().privateKey()).encode();
        assertThatThrownBy(() -> verify(garbage, null, Map.of())).hasMessageContaining("CBOR: ");
    }

    @Test
    void oversizedFieldsAreRefusedAtIssue() {
        assertThatThrownBy(() -> new Attestor(card, "m", pcrs).document(new byte[1025], null, null))
                .hasMessageContaining("at most 1024");
    }

    @Test
    void opensslVerifiesTheCoseSignatureOverTheSigStructure() throws Exception {
        // Independent check of RFC 9052 §4.4: build Sig_structure by hand, convert r||s to DER,
        // and let openssl verify it with the attestation certificate's key.
        CoseSign1 cose = CoseSign1.decode(doc, 1 << 16);
        AttestationDocument d = AttestationDocument.fromCbor(CborDecoder.decode(cose.payload()));
        Path dir = Files.createTempDirectory("qt-cose");
        Files.write(dir.resolve("leaf.der"), d.certificate());
        ByteArrayOutputStream tbs = new ByteArrayOutputStream();
        tbs.write(0x84);
        tbs.write(0x6a);
        tbs.writeBytes("Signature1".getBytes());
        tbs.write(0x44);
        tbs.writeBytes(new byte[] {(byte) 0xa1, 0x01, 0x38, 0x22});
        tbs.write(0x40);
        byte[] payload = cose.payload();
        tbs.write(0x59);
        tbs.write(payload.length >> 8);
        tbs.write(payload.length & 0xff);
        tbs.writeBytes(payload);
        Files.write(dir.resolve("tbs.bin"), tbs.toByteArray());
        byte[] sig = cose.signature();
        Files.write(dir.resolve("sig.der"), derSignature(Arrays.copyOfRange(sig, 0, 48), Arrays.copyOfRange(sig, 48, 96)));
        Openssl.ok(dir, "x509", "-inform", "DER", "-in", "leaf.der", "-pubkey", "-noout", "-out", "leaf.pub");
        assertThat(Openssl.ok(dir, "dgst", "-sha384", "-verify", "leaf.pub", "-signature", "sig.der", "tbs.bin"))
                .contains("Verified OK");
        assertThat(((ECPublicKey) card.attestationKey().certificate().getPublicKey()).getParams().getCurve().getField()
                .getFieldSize()).isEqualTo(384);
    }

    private static byte[] derSignature(byte[] r, byte[] s) {
        byte[] rd = new BigInteger(1, r).toByteArray();
        byte[] sd = new BigInteger(1, s).toByteArray();
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        int len = 2 + rd.length + 2 + sd.length;
        o.write(0x30);
        if (len > 127) {
            o.write(0x81);
        }
        o.write(len);
        o.write(0x02);
        o.write(rd.length);
        o.writeBytes(rd);
        o.write(0x02);
        o.write(sd.length);
        o.writeBytes(sd);
        return o.toByteArray();
    }
}
