package io.qingtian.trust.cose;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.cbor.CborEncoder;
import io.qingtian.trust.cbor.CborItem;
import io.qingtian.trust.identity.Certificates;
import org.junit.jupiter.api.Test;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CoseSign1Test {
    final KeyPair key = Certificates.newP384();

    @Test
    void signsAndVerifiesWithRawRsSignature() throws Exception {
        CoseSign1 s = CoseSign1.sign("payload".getBytes(), key.getPrivate());
        assertThat(s.signature()).hasSize(96);
        CoseSign1 back = CoseSign1.decode(s.encode(), 4096);
        assertThat(back.verify(key.getPublic())).isTrue();
        assertThat(back.verify(Certificates.newP384().getPublic())).isFalse();
    }

    @Test
    void acceptsTag18() throws Exception {
        CoseSign1 s = CoseSign1.sign("p".getBytes(), key.getPrivate());
        byte[] tagged = CborEncoder.encode(new CborItem.Tag(18, io.qingtian.trust.cbor.CborDecoder.decode(s.encode())));
        assertThat(CoseSign1.decode(tagged, 4096).verify(key.getPublic())).isTrue();
        byte[] wrongTag = CborEncoder.encode(new CborItem.Tag(98, io.qingtian.trust.cbor.CborDecoder.decode(s.encode())));
        assertThatThrownBy(() -> CoseSign1.decode(wrongTag, 4096)).hasMessageContaining("unexpected CBOR tag 98");
    }

    @Test
    void refusesOtherAlgorithmsAndShapes() {
        byte[] es256 = CborEncoder.encode(CborItem.CborMap.builder().put(1, CborItem.integer(-7)).build());
        assertRefused(envelope(es256, new byte[96]), "algorithm -7 is not ES384");
        assertRefused(envelope(new byte[0], new byte[96]), "no algorithm");
        assertRefused(envelope(new byte[] {(byte) 0xa1}, new byte[96]), "protected header");
        byte[] es384 = CborEncoder.encode(CborItem.CborMap.builder().put(1, CborItem.integer(-35)).build());
        assertRefused(envelope(es384, new byte[70]), "must be 96 bytes");
        assertRefused(CborEncoder.encode(new CborItem.Array(List.of(CborItem.integer(1)))), "array of 4");
        assertRefused(CborEncoder.encode(CborItem.text("x")), "array of 4");
    }

    @Test
    void refusesNonP384Keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair p256 = g.generateKeyPair();
        assertThatThrownBy(() -> CoseSign1.sign(new byte[1], p256.getPrivate())).hasMessageContaining("not an ECDSA P-384 key");
        CoseSign1 s = CoseSign1.sign("p".getBytes(), key.getPrivate());
        assertThatThrownBy(() -> s.verify(p256.getPublic())).hasMessageContaining("not an ECDSA P-384 key");
    }

    private static byte[] envelope(byte[] prot, byte[] sig) {
        return CborEncoder.encode(new CborItem.Array(List.of(CborItem.bytes(prot), CborItem.CborMap.builder().build(),
                CborItem.bytes(new byte[] {1}), CborItem.bytes(sig))));
    }

    private static void assertRefused(byte[] b, String reason) {
        assertThatThrownBy(() -> CoseSign1.decode(b, 4096)).isInstanceOf(TrustException.class).hasMessageContaining(reason);
    }
}
