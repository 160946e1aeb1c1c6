package io.qingtian.trust.release;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Ed25519;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReleaseTest {
    @TempDir
    Path tmp;
    KeyPair releaseKey;
    Path state;

    @BeforeEach
    void setUp() throws Exception {
        releaseKey = Ed25519.generate();
        state = Files.createDirectories(tmp.resolve("state"));
    }

    /** An install dir shaped like cli/target/qt: qingtian-cli.jar and lib/*.jar, signed at {@code version}. */
    private Path release(String name, long version) throws Exception {
        Path d = Files.createDirectories(tmp.resolve(name).resolve("lib"));
        Files.writeString(d.getParent().resolve("qingtian-cli.jar"), "cli " + name);
        Files.writeString(d.resolve("qingtian-card.jar"), "card " + name);
        Files.writeString(d.resolve("picocli.jar"), "picocli");
        ReleaseVerifier.sign(d.getParent(), version, releaseKey.getPrivate());
        return d.getParent();
    }

    @Test
    void untouchedReleaseVerifies() throws Exception {
        ReleaseManifest m = ReleaseVerifier.check(release("r1", 4), releaseKey.getPublic());
        assertThat(m.version()).isEqualTo(4);
        assertThat(m.jars()).containsOnlyKeys("qingtian-cli.jar", "lib/qingtian-card.jar", "lib/picocli.jar");
    }

    @Test
    void tamperedJarIsRefusedNamingIt() throws Exception {
        Path r = release("r1", 1);
        Files.writeString(r.resolve("lib/qingtian-card.jar"), "card r1 + backdoor");
        assertThatThrownBy(() -> ReleaseVerifier.check(r, releaseKey.getPublic())).isInstanceOf(TrustException.class)
                .hasMessageContaining("card jar").hasMessageContaining("lib/qingtian-card.jar").hasMessageContaining("was modified");
    }

    @Test
    void addedOrMissingJarIsRefused() throws Exception {
        Path r = release("r1", 1);
        Files.writeString(r.resolve("lib/agent.jar"), "evil");
        assertThatThrownBy(() -> ReleaseVerifier.check(r, releaseKey.getPublic()))
                .hasMessageContaining("lib/agent.jar").hasMessageContaining("is not part of release 1");
        Files.delete(r.resolve("lib/agent.jar"));
        Files.delete(r.resolve("lib/picocli.jar"));
        assertThatThrownBy(() -> ReleaseVerifier.check(r, releaseKey.getPublic()))
                .hasMessageContaining("lib/picocli.jar is missing");
    }

    @Test
    void manifestSignedByAnotherKeyOrEditedIsRefused() throws Exception {
        Path r = release("r1", 1);
        assertThatThrownBy(() -> ReleaseVerifier.check(r, Ed25519.generate().getPublic()))
                .hasMessageContaining("signature does not verify with the release key");
        Files.writeString(r.resolve("release.json"), Files.readString(r.resolve("release.json")).replace("\"version\" : 1", "\"version\" : 9"));
        assertThatThrownBy(() -> ReleaseVerifier.check(r, releaseKey.getPublic()))
                .hasMessageContaining("signature does not verify");
    }

    @Test
    void malformedSignedManifestIsRefused() throws Exception {
        Path r = release("r1", 1);
        for (String bad : new String[] {"{}", "{\"format\":\"qingtian-release-manifest/1\",\"version\":-1,\"jars\":[]}",
                "{\"format\":\"qingtian-release-manifest/1\",\"version\":1,\"jars\":[{\"name\":\"../x.jar\",\"sha384\":\"00\"}]}"}) {
            Files.writeString(r.resolve("release.json"), bad);
            Files.write(r.resolve("release.json.sig"), Ed25519.sign(releaseKey.getPrivate(), bad.getBytes()));
            assertThatThrownBy(() -> ReleaseVerifier.check(r, releaseKey.getPublic())).isInstanceOf(TrustException.class)
                    .satisfies(e -> assertThat(e.getMessage()).contains("release.json").doesNotContain("\n"));
        }
    }

    @Test
    void firstInstallBootsOnTrialThenBecomesGood() throws Exception {
        ReleaseStore store = ReleaseStore.open(state, releaseKey.getPublic());
        assertThat(store.install(release("r1", 1))).isEqualTo(ReleaseStore.Slot.A);
        ReleaseStore.Boot boot = store.selectForBoot();
        assertThat(boot.slot()).isEqualTo(ReleaseStore.Slot.A);
        assertThat(boot.trial()).isTrue();
        store.markGood(boot.slot());
        assertThat(store.counter().value()).isEqualTo(1);
        assertThat(store.selectForBoot()).satisfies(b -> {
            assertThat(b.slot()).isEqualTo(ReleaseStore.Slot.A);
            assertThat(b.trial()).isFalse();
        });
    }

    @Test
    void updateThatNeverStartsFallsBackToThePreviousSlot() throws Exception {
        ReleaseStore store = ReleaseStore.open(state, releaseKey.getPublic());
        store.install(release("r1", 1));
        store.markGood(store.selectForBoot().slot());
        assertThat(store.install(release("r2", 2))).isEqualTo(ReleaseStore.Slot.B);
        for (int i = 0; i < ReleaseStore.MAX_BOOT_ATTEMPTS; i++) {
            ReleaseStore.Boot b = store.selectForBoot(); // the card "crashes" before markGood
            assertThat(b.slot()).isEqualTo(ReleaseStore.Slot.B);
            assertThat(b.version()).isEqualTo(2);
        }
        ReleaseStore.Boot fallback = store.selectForBoot();
        assertThat(fallback.slot()).isEqualTo(ReleaseStore.Slot.A);
        assertThat(fallback.version()).isEqualTo(1);
        assertThat(fallback.trial()).isFalse();
        assertThat(store.counter().value()).isEqualTo(1); // v2 never proved itself: v1 is still allowed
    }

    @Test
    void tamperedPendingSlotFallsBackAndTamperedGoodSlotRefusesToStart() throws Exception {
        ReleaseStore store = ReleaseStore.open(state, releaseKey.getPublic());
        store.install(release("r1", 1));
        store.markGood(store.selectForBoot().slot());
        store.install(release("r2", 2));
        Files.writeString(store.slotDir(ReleaseStore.Slot.B).resolve("lib/qingtian-card.jar"), "tampered");
        assertThat(store.selectForBoot().slot()).isEqualTo(ReleaseStore.Slot.A);
        Files.writeString(store.slotDir(ReleaseStore.Slot.A).resolve("qingtian-cli.jar"), "tampered");
        assertThatThrownBy(store::selectForBoot).hasMessageContaining("qingtian-cli.jar").hasMessageContaining("was modified");
    }

    @Test
    void downgradeIsRefusedOnceTheNewerReleaseIsGood() throws Exception {
        ReleaseStore store = ReleaseStore.open(state, releaseKey.getPublic());
        store.install(release("r3", 3));
        store.markGood(store.selectForBoot().slot());
        assertThatThrownBy(() -> store.install(release("r2", 2))).isInstanceOf(TrustException.class)
                .hasMessageContaining("release 2 refused: downgrade below the anti-rollback counter 3");
        // Same version re-install is allowed (>= counter).
        assertThat(store.install(release("r3b", 3))).isEqualTo(ReleaseStore.Slot.B);
    }

    @Test
    void oldSlotBelowTheCounterIsNeverStarted() throws Exception {
        ReleaseStore store = ReleaseStore.open(state, releaseKey.getPublic());
        store.install(release("r1", 1));
        store.markGood(store.selectForBoot().slot());
        store.install(release("r2", 2));
        store.markGood(store.selectForBoot().slot());
        assertThat(store.counter().value()).isEqualTo(2);
        // Someone puts the boot state back to A (v1): the counter still forbids it.
        Files.writeString(state.resolve("release/boot-state.json"), "{\"good\":\"A\",\"pending\":null,\"attempts\":0}\n");
        assertThatThrownBy(store::selectForBoot).hasMessageContaining("below the anti-rollback counter 2");
    }

    @Test
    void counterNeverDecreasesAndRefusesCorruption() throws Exception {
        RollbackCounter c = new RollbackCounter(tmp.resolve("ctr"));
        assertThat(c.value()).isZero();
        assertThat(c.advanceTo(5)).isEqualTo(5);
        assertThat(c.advanceTo(3)).isEqualTo(5);
        assertThat(new RollbackCounter(tmp.resolve("ctr")).value()).isEqualTo(5);
        Files.writeString(tmp.resolve("ctr"), "garbage");
        assertThatThrownBy(c::value).hasMessageContaining("corrupt");
        assertThat(Files.list(tmp).filter(p -> p.getFileName().toString().contains(".tmp-")).count()).isZero();
    }
}
