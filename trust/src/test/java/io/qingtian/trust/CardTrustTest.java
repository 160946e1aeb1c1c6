package io.qingtian.trust;

import io.qingtian.acpi.GuestPlatform;
import io.qingtian.trust.attest.AttestationVerifier;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.image.ManifestSigner;
import io.qingtian.trust.measure.MeasurementStore;
import io.qingtian.trust.measure.Pcr;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CardTrustTest {
    @TempDir
    Path dir;
    Path manifest;
    CardTrust card;

    @BeforeEach
    void setUp() throws Exception {
        KeyPair k = Ed25519.generate();
        KeyFiles.writePublic(dir.resolve("img.pub"), k.getPublic(), false);
        Files.write(dir.resolve("vmlinuz"), new byte[] {1, 2, 3, 4});
        manifest = dir.resolve("boot.json");
        ManifestSigner.sign(k.getPrivate(), dir.resolve("vmlinuz"), Optional.empty(), "console=hvc0", manifest);
        card = CardTrust.open(dir.resolve("state"), dir.resolve("img.pub"), null);
    }

    @Test
    void approvedLaunchIsMeasuredCommittedAndAttestable() throws Exception {
        CardTrust.LaunchDecision d = card.prepareLaunch("vm1", manifest, "console=hvc0");
        assertThat(d).isInstanceOf(CardTrust.LaunchDecision.Approved.class);
        CardTrust.InstanceMeasurement m = ((CardTrust.LaunchDecision.Approved) d).measurement();
        m.acpiTables(GuestPlatform.forGuest(2, 512L << 20).tables());
        m.commit();
        assertThatThrownBy(() -> m.acpiTables(GuestPlatform.forGuest(1, 512L << 20).tables())).isInstanceOf(IllegalStateException.class);
        // What was stored replays to what the document carries.
        var replayed = new MeasurementStore(dir.resolve("state")).load("vm1").orElseThrow().replay();
        byte[] doc = m.attestor().document(new byte[] {7}, null, null);
        var verified = AttestationVerifier.verify(doc, card.identity().rootCertificate(), new byte[] {7},
                Map.of(Pcr.KERNEL, replayed.value(Pcr.KERNEL), Pcr.ACPI_TABLES, replayed.value(Pcr.ACPI_TABLES),
                        Pcr.IMAGE_SIGNER, replayed.value(Pcr.IMAGE_SIGNER)), Instant.now());
        assertThat(verified.moduleId()).endsWith("/vm1").startsWith("qt-card-" + card.identity().cardId());
    }

    @Test
    void refusesTamperedKernelWrongCmdlineAndCardsWithoutAnchors() throws Exception {
        assertThat(card.prepareLaunch("vm1", manifest, "console=hvc0 init=/bin/sh"))
                .isInstanceOfSatisfying(CardTrust.LaunchDecision.Refused.class, r -> assertThat(r.message()).contains("cmdline differs"));
        Files.write(dir.resolve("vmlinuz"), new byte[] {1, 2, 3, 5});
        assertThat(card.prepareLaunch("vm1", manifest, null))
                .isInstanceOfSatisfying(CardTrust.LaunchDecision.Refused.class, r -> assertThat(r.message()).contains("vmlinuz"));
        CardTrust noAnchors = CardTrust.open(dir.resolve("state"), null, null);
        assertThat(noAnchors.prepareLaunch("vm1", manifest, null))
                .isInstanceOfSatisfying(CardTrust.LaunchDecision.Refused.class, r -> assertThat(r.message()).contains("no trust anchors"));
    }

    @Test
    void unsignedLaunchIsStillMeasured() {
        var a = card.measureUnsigned("vm2", java.lang.foreign.MemorySegment.ofArray(new byte[] {1}), null, "x");
        var b = card.measureUnsigned("vm2", java.lang.foreign.MemorySegment.ofArray(new byte[] {2}), null, "x");
        assertThat(a.pcrs().value(Pcr.KERNEL)).isNotEqualTo(b.pcrs().value(Pcr.KERNEL));
        assertThat(a.pcrs().value(Pcr.HYPERVISOR)).isEqualTo(b.pcrs().value(Pcr.HYPERVISOR));
    }
}
