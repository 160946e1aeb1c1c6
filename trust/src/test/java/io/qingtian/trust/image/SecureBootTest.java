package io.qingtian.trust.image;

import io.qingtian.trust.Openssl;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.Sha384;
import io.qingtian.trust.measure.MeasuredBoot;
import io.qingtian.trust.measure.Pcr;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SecureBootTest {
    @TempDir
    Path dir;
    KeyPair key;
    SecureBootPolicy policy;
    Path manifest;

    @BeforeEach
    void signImage() throws Exception {
        key = Ed25519.generate();
        policy = new SecureBootPolicy(TrustAnchors.of("test.pub", key.getPublic()));
        Random r = new Random(7);
        byte[] kernel = new byte[200_000];
        byte[] initrd = new byte[100_000];
        r.nextBytes(kernel);
        r.nextBytes(initrd);
        Files.write(dir.resolve("vmlinuz"), kernel);
        Files.write(dir.resolve("initrd.img"), initrd);
        manifest = dir.resolve("boot.json");
        ManifestSigner.sign(key.getPrivate(), dir.resolve("vmlinuz"), Optional.of(dir.resolve("initrd.img")),
                "console=ttyS0 quiet", manifest);
    }

    private BootVerdict.Verified verified() {
        BootVerdict v = policy.verify(manifest);
        assertThat(v).isInstanceOf(BootVerdict.Verified.class);
        return (BootVerdict.Verified) v;
    }

    private BootVerdict.Refused refused() {
        BootVerdict v = policy.verify(manifest);
        assertThat(v).isInstanceOf(BootVerdict.Refused.class);
        return (BootVerdict.Refused) v;
    }

    private static void flipByte(Path f, int at) throws Exception {
        byte[] b = Files.readAllBytes(f);
        b[at] ^= 0x01;
        Files.write(f, b);
    }

    @Test
    void signedImageVerifiesAndCarriesTheBytesToLaunch() throws Exception {
        BootVerdict.Verified v = verified();
        assertThat(v.kernel().content().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                .isEqualTo(Files.readAllBytes(dir.resolve("vmlinuz")));
        assertThat(v.initramfs()).isPresent();
        assertThat(v.cmdline()).isEqualTo("console=ttyS0 quiet");
        assertThat(v.manifest().kernel().path()).isEqualTo("vmlinuz"); // relative: the set can move
        assertThat(v.anchor().name()).isEqualTo("test.pub");
        // Measuring the verdict (reusing its digests) equals hashing the launched bytes afresh.
        MeasuredBoot fromVerdict = new MeasuredBoot().verifiedImage(v);
        MeasuredBoot fresh = new MeasuredBoot().kernel(v.kernel().content(), "k").initramfs(v.initramfs().get().content(), "i");
        assertThat(fromVerdict.pcrs().value(Pcr.KERNEL)).isEqualTo(fresh.pcrs().value(Pcr.KERNEL));
        assertThat(fromVerdict.pcrs().value(Pcr.INITRAMFS)).isEqualTo(fresh.pcrs().value(Pcr.INITRAMFS));
    }

    @Test
    void flippedKernelByteIsRefusedNamingTheKernelAndChangesPcr1() throws Exception {
        byte[] before = new MeasuredBoot().verifiedImage(verified()).pcrs().value(Pcr.KERNEL);
        flipByte(dir.resolve("vmlinuz"), 12345);
        BootVerdict.Refused r = refused();
        assertThat(r.file()).endsWith("vmlinuz");
        assertThat(r.reason()).contains("kernel SHA-384 mismatch");
        byte[] after = new MeasuredBoot().kernel(java.lang.foreign.MemorySegment.ofArray(Files.readAllBytes(dir.resolve("vmlinuz"))), "k")
                .pcrs().value(Pcr.KERNEL);
        assertThat(after).isNotEqualTo(before);
    }

    @Test
    void flippedInitramfsByteIsRefusedNamingTheInitramfs() throws Exception {
        flipByte(dir.resolve("initrd.img"), 0);
        BootVerdict.Refused r = refused();
        assertThat(r.message()).contains("initrd.img").contains("initramfs SHA-384 mismatch");
    }

    @Test
    void editedCmdlineInTheManifestBreaksTheSignature() throws Exception {
        String json = Files.readString(manifest).replace("console=ttyS0 quiet", "console=ttyS0 quieT");
        Files.writeString(manifest, json);
        BootVerdict.Refused r = refused();
        assertThat(r.file()).endsWith("boot.json");
        assertThat(r.reason()).contains("does not verify with any trust anchor");
    }

    @Test
    void launchWithADifferentCmdlineIsRefusedAndChangesPcr3() {
        BootVerdict.Verified v = verified();
        assertThat(SecureBootPolicy.checkCmdline(v, manifest, "console=ttyS0 quiet")).isEmpty();
        assertThat(SecureBootPolicy.checkCmdline(v, manifest, "console=ttyS0 quiet init=/bin/sh"))
                .hasValueSatisfying(r -> assertThat(r.reason()).contains("cmdline differs"));
        assertThat(new MeasuredBoot().cmdline("console=ttyS0 quiet").pcrs().value(Pcr.CMDLINE))
                .isNotEqualTo(new MeasuredBoot().cmdline("console=ttyS0 quieT").pcrs().value(Pcr.CMDLINE));
    }

    @Property(tries = 200)
    void anyByteFlipOfTheManifestOrSignatureIsRefused(@ForAll @IntRange(min = 0, max = 100_000) int pos,
                                                      @ForAll boolean inSignature) throws Exception {
        Path tmp = Files.createTempDirectory("qt-sb");
        try {
            KeyPair k = Ed25519.generate();
            Files.write(tmp.resolve("k"), new byte[] {1, 2, 3});
            Path m = tmp.resolve("m.json");
            ManifestSigner.sign(k.getPrivate(), tmp.resolve("k"), Optional.empty(), "", m);
            Path target = inSignature ? SecureBootPolicy.signatureFileOf(m) : m;
            flipByte(target, pos % (int) Files.size(target));
            assertThat(new SecureBootPolicy(TrustAnchors.of("k", k.getPublic())).verify(m))
                    .isInstanceOf(BootVerdict.Refused.class);
        } finally {
            try (var s = Files.list(tmp)) {
                for (Path p : s.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(tmp);
        }
    }

    @Test
    void filesOutsideTheManifestDirectoryAreRecordedByAbsolutePath() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("manifests"));
        Path m = sub.resolve("m.json");
        BootManifest bm = ManifestSigner.sign(key.getPrivate(), dir.resolve("vmlinuz"), Optional.empty(), "", m);
        assertThat(Path.of(bm.kernel().path())).isAbsolute();
        assertThat(policy.verify(m)).isInstanceOf(BootVerdict.Verified.class);
        // Moving the manifest keeps working (absolute path); the relative one moves with its files.
        Files.move(m, dir.resolve("moved.json"));
        Files.move(SecureBootPolicy.signatureFileOf(m), dir.resolve("moved.json.sig"));
        assertThat(policy.verify(dir.resolve("moved.json"))).isInstanceOf(BootVerdict.Verified.class);
    }

    @Test
    void signatureByAnUntrustedKeyIsRefused() {
        SecureBootPolicy other = new SecureBootPolicy(TrustAnchors.of("other.pub", Ed25519.generate().getPublic()));
        assertThat(other.verify(manifest)).isInstanceOfSatisfying(BootVerdict.Refused.class,
                r -> assertThat(r.reason()).contains("does not verify with any trust anchor"));
    }

    @Test
    void missingOrTruncatedSignatureIsRefused() throws Exception {
        Path sig = SecureBootPolicy.signatureFileOf(manifest);
        Files.write(sig, new byte[10]);
        assertThat(refused().reason()).contains("not an Ed25519 signature (10 bytes");
        Files.delete(sig);
        assertThat(refused().file()).endsWith("boot.json.sig");
    }

    @Test
    void missingKernelIsRefusedNamingIt() throws Exception {
        Files.delete(dir.resolve("vmlinuz"));
        assertThat(refused().message()).contains("vmlinuz").contains("does not exist");
    }

    @Test
    void malformedButCorrectlySignedManifestsAreRefusedWithAReason() throws Exception {
        String good = Files.readString(manifest);
        String[][] cases = {
                {"{", "not valid JSON"},
                {"[]", "not a JSON object"},
                {good.replace("qingtian-boot-manifest/1", "qingtian-boot-manifest/2"), "\"format\""},
                {good.replaceFirst("\"format\"", "\"extra\" : 1, \"format\""), "unknown field \"extra\""},
                {good.replaceFirst("\"sha384\" : \"[0-9a-f]{4}", "\"sha384\" : \"zz"), "not a hex digit"},
                {good.replaceFirst("\"sha384\" : \"[0-9a-f]{2}", "\"sha384\" : \""), "96 hex digits"},
                {good.replace("\"path\" : \"vmlinuz\"", "\"path\" : 7"), "non-empty string"},
                {good.replace("quiet\"", "quiet!\""), "does not match \"cmdline.text\""},
                {good.replaceFirst("\"format\"", "\"format\" : \"x\", \"format\""), "not valid JSON"},
                {good + "{}", "not valid JSON"},
        };
        for (String[] c : cases) {
            byte[] json = c[0].getBytes(StandardCharsets.UTF_8);
            Files.write(manifest, json);
            Files.write(SecureBootPolicy.signatureFileOf(manifest), Ed25519.sign(key.getPrivate(), json));
            BootVerdict.Refused r = refused();
            assertThat(r.message()).as(c[1]).contains("boot.json").contains(c[1]).doesNotContain("\n");
        }
    }

    @Test
    void malformedTrustAnchorsAreClearErrors() throws Exception {
        Files.writeString(dir.resolve("bad.pub"), "hello");
        assertThatThrownBy(() -> TrustAnchors.load(dir.resolve("bad.pub"))).isInstanceOf(TrustException.class)
                .hasMessageContaining("no '-----BEGIN PUBLIC KEY-----' block");
        Files.writeString(dir.resolve("bad.pub"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
        assertThatThrownBy(() -> TrustAnchors.load(dir.resolve("bad.pub"))).hasMessageContaining("not a Ed25519 public key");
        // A P-384 key is a valid SPKI but not an image-signing key.
        Files.writeString(dir.resolve("ec.pub"), io.qingtian.trust.crypto.Pem.encode("PUBLIC KEY",
                io.qingtian.trust.identity.Certificates.newP384().getPublic().getEncoded()));
        assertThatThrownBy(() -> TrustAnchors.load(dir.resolve("ec.pub"))).hasMessageContaining("not a Ed25519 public key");
    }

    @Test
    void opensslSignatureOverOurManifestVerifies() throws Exception {
        // openssl is the signer: its Ed25519 key and raw signature must be accepted by our policy.
        Openssl.ok(dir, "genpkey", "-algorithm", "ed25519", "-out", "ossl.key");
        Openssl.ok(dir, "pkey", "-in", "ossl.key", "-pubout", "-out", "ossl.pub");
        Openssl.ok(dir, "pkeyutl", "-sign", "-rawin", "-inkey", "ossl.key", "-in", "boot.json", "-out", "boot.json.sig");
        SecureBootPolicy p = new SecureBootPolicy(TrustAnchors.load(dir.resolve("ossl.pub")));
        assertThat(p.verify(manifest)).isInstanceOf(BootVerdict.Verified.class);
        // And the other way: openssl verifies our signature with our key files.
        Path ours = dir.resolve("ours.key");
        KeyFiles.writePrivate(ours, key.getPrivate(), null, false);
        KeyFiles.writePublic(dir.resolve("ours.pub"), key.getPublic(), false);
        ManifestSigner.sign(KeyFiles.readPrivate(ours, "Ed25519", null), dir.resolve("vmlinuz"), Optional.empty(), "x", manifest);
        assertThat(Openssl.ok(dir, "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", "ours.pub", "-in", "boot.json",
                "-sigfile", "boot.json.sig")).contains("Signature Verified Successfully");
        // openssl's key file as written by genpkey is 0600? If not, we refuse to sign with it.
        Files.setPosixFilePermissions(dir.resolve("ossl.key"), PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> KeyFiles.readPrivate(dir.resolve("ossl.key"), "Ed25519", null)).hasMessageContaining("too open");
        Files.setPosixFilePermissions(dir.resolve("ossl.key"), PosixFilePermissions.fromString("rw-------"));
        assertThat(KeyFiles.readPrivate(dir.resolve("ossl.key"), "Ed25519", null).getAlgorithm()).isIn("Ed25519", "EdDSA");
    }

    @Test
    void cmdlineDigestIsSha384OfItsUtf8Bytes() throws Exception {
        assertThat(verified().manifest().cmdlineSha384()).isEqualTo(Sha384.of("console=ttyS0 quiet".getBytes(StandardCharsets.UTF_8)));
    }
}
