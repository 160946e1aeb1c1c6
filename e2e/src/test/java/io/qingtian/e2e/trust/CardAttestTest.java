package io.qingtian.e2e.trust;

import static io.qingtian.e2e.trust.TrustCliTest.assertOneLineRefusal;
import static io.qingtian.e2e.trust.TrustCliTest.qt;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.card.api.ControlPlane;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.instance.HypervisorLauncher;
import io.qingtian.trust.attest.AttestationDocument;
import io.qingtian.trust.attest.AttestationVerifier;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.identity.Certificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code qt attest request} asks the running card (its control socket): documents from one card
 * boot are signed by that boot's attestation key, and an {@code --offline} document is not.
 */
class CardAttestTest {
    @TempDir
    static Path tmp;
    static CardDaemon card;
    static Path state;

    @BeforeAll
    static void startCard() throws Exception {
        TrustCliTest.findDist();
        state = tmp.resolve("state");
        card = CardDaemon.start(new StateDir(state), Exporters.vhostUser(),
                new ControlPlane.Options(null, null, "127.0.0.1", -1, HypervisorLauncher.sameJvm(), 642_000));
    }

    @AfterAll
    static void stopCard() {
        if (card != null) {
            card.close();
        }
    }

    static AttestationDocument verify(String file, String nonce) throws Exception {
        Path rootFile = state.resolve("keys/card-root.crt");
        X509Certificate root = Certificates.parsePem(rootFile.toString(), KeyFiles.readSmall(rootFile, 64 * 1024));
        return AttestationVerifier.verify(Files.readAllBytes(tmp.resolve(file)), root, HexFormat.of().parseHex(nonce),
                Map.of(), Instant.now());
    }

    @Test
    void documentsOfOneCardBootShareItsAttestationKey() throws Exception {
        var a = qt(tmp, "attest", "request", "--state", state.toString(), "--nonce", "0a0b", "--out", "a.cose");
        assertThat(a.exit()).as(a.err()).isZero();
        assertThat(a.out()).contains("from the running card");
        Files.writeString(tmp.resolve("ud"), "hello");
        var b = qt(tmp, "attest", "request", "--state", state.toString(), "--nonce", "0c0d", "--user-data", "ud", "--out", "b.cose");
        assertThat(b.exit()).as(b.err()).isZero();

        AttestationDocument da = verify("a.cose", "0a0b");
        AttestationDocument db = verify("b.cose", "0c0d");
        assertThat(db.certificate()).as("same per-boot attestation certificate").isEqualTo(da.certificate());
        assertThat(da.moduleId()).isEqualTo("qt-card-" + card.plane().trust().identity().cardId());
        assertThat(db.userData()).hasValueSatisfying(u -> assertThat(new String(u)).isEqualTo("hello"));
        assertThat(da.pcrs().get(0)).isNotEqualTo(new byte[48]); // PCR0: the card's build

        // offline: same root, but a one-off attestation key, and it says so
        var off = qt(tmp, "attest", "request", "--offline", "--state", state.toString(), "--nonce", "0e0f", "--out", "c.cose");
        assertThat(off.exit()).as(off.err()).isZero();
        assertThat(off.out()).contains("OFFLINE");
        assertThat(verify("c.cose", "0e0f").certificate()).isNotEqualTo(da.certificate());
    }

    @Test
    void unknownInstanceAndBadNonceAreOneLineRefusals() throws Exception {
        assertOneLineRefusal(qt(tmp, "attest", "request", "--state", state.toString(), "--instance", "nope",
                "--nonce", "00", "--out", "x.cose"), "the card refused", "no instance nope");
        assertOneLineRefusal(qt(tmp, "attest", "request", "--state", state.toString(), "--nonce", "0g", "--out", "x.cose"), "--nonce");
        assertOneLineRefusal(qt(tmp, "attest", "request", "--state", state.toString(), "--passphrase-file", "p",
                "--nonce", "00", "--out", "x.cose"), "--offline");
    }
}
