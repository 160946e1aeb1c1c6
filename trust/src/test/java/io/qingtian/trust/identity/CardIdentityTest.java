package io.qingtian.trust.identity;

import io.qingtian.trust.Openssl;
import io.qingtian.trust.TrustException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CardIdentityTest {
    @TempDir
    Path state;

    @Test
    void firstStartCreatesPrivateKeysAndLaterStartsReuseThem() throws Exception {
        CardIdentity first = CardIdentity.loadOrCreate(state, null);
        Path keys = state.resolve("keys");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keys))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keys.resolve("card-root.key")))).isEqualTo("rw-------");
        CardIdentity second = CardIdentity.loadOrCreate(state, null);
        assertThat(second.rootCertificate()).isEqualTo(first.rootCertificate());
        assertThat(second.cardId()).isEqualTo(first.cardId()).hasSize(16);
        // Per boot: a new attestation key each start, both certified by the same root.
        assertThat(second.attestationKey().certificate().getPublicKey())
                .isNotEqualTo(first.attestationKey().certificate().getPublicKey());
        second.attestationKey().certificate().verify(first.rootCertificate().getPublicKey());
    }

    @Test
    void refusesKeyReadableByOthers() throws Exception {
        CardIdentity.loadOrCreate(state, null);
        Path key = state.resolve("keys/card-root.key");
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, null)).isInstanceOf(TrustException.class)
                .hasMessageContaining("card-root.key").hasMessageContaining("too open").hasMessageContaining("chmod 600");
    }

    @Test
    void refusesKeysDirectoryOpenToOthers() throws Exception {
        CardIdentity.loadOrCreate(state, null);
        Files.setPosixFilePermissions(state.resolve("keys"), PosixFilePermissions.fromString("rwxr-xr-x"));
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, null)).isInstanceOf(TrustException.class)
                .hasMessageContaining("chmod 700");
    }

    @Test
    void refusesSymlinkedKey() throws Exception {
        CardIdentity.loadOrCreate(state, null);
        Path key = state.resolve("keys/card-root.key");
        Path moved = state.resolve("elsewhere.key");
        Files.move(key, moved);
        Files.createSymbolicLink(key, moved);
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, null)).hasMessageContaining("symbolic links are refused");
    }

    @Test
    void passphraseWrapsTheRootKey() throws Exception {
        char[] pass = "correct horse".toCharArray();
        CardIdentity first = CardIdentity.loadOrCreate(state, pass);
        String file = Files.readString(state.resolve("keys/card-root.key"));
        assertThat(file).contains("QINGTIAN WRAPPED PRIVATE KEY").doesNotContain("BEGIN PRIVATE KEY");
        assertThat(CardIdentity.loadOrCreate(state, pass).rootCertificate()).isEqualTo(first.rootCertificate());
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, "wrong".toCharArray()))
                .isInstanceOf(TrustException.class).hasMessageContaining("wrong passphrase");
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, null))
                .isInstanceOf(TrustException.class).hasMessageContaining("none was given");
    }

    @Test
    void refusesACertificateThatIsNotTheKeys() throws Exception {
        CardIdentity.loadOrCreate(state, null);
        Path other = Files.createTempDirectory(state.getParent(), "other");
        CardIdentity.loadOrCreate(other, null);
        Files.copy(other.resolve("keys/card-root.crt"), state.resolve("keys/card-root.crt"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, null)).hasMessageContaining("does not belong to");
    }

    @Test
    void refusesGarbageCertificate() throws Exception {
        CardIdentity.loadOrCreate(state, null);
        Files.writeString(state.resolve("keys/card-root.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> CardIdentity.loadOrCreate(state, null)).isInstanceOf(TrustException.class)
                .hasMessageContaining("not a valid X.509 certificate");
    }

    @Test
    void opensslVerifiesTheChainRootToAttestation() throws Exception {
        CardIdentity id = CardIdentity.loadOrCreate(state, null);
        Files.writeString(state.resolve("att.pem"), Certificates.toPem(id.attestationKey().certificate()));
        String out = Openssl.ok(state, "verify", "-x509_strict", "-CAfile", "keys/card-root.crt", "att.pem");
        assertThat(out).contains("att.pem: OK");
        // And the negative: another card's root does not vouch for it.
        Path other = Files.createTempDirectory(state.getParent(), "other");
        CardIdentity.loadOrCreate(other, null);
        assertThat(Openssl.run(state, "verify", "-CAfile", other.resolve("keys/card-root.crt").toString(), "att.pem").exitCode())
                .isNotZero();
        // openssl reads the (unwrapped) root key we wrote: PKCS#8, P-384.
        assertThat(Openssl.ok(state, "pkey", "-in", "keys/card-root.key", "-noout", "-text")).contains("NIST CURVE: P-384");
    }
}
