package io.qingtian.e2e.trust;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Drives {@code qt image} and {@code qt attest} as a user does: the packaged CLI in a separate JVM,
 * checking exit codes and that every refusal is exactly one line (no stack trace).
 */
class TrustCliTest {
    public record Run(int exit, String out, String err) {}

    static Path dist;

    @BeforeAll
    static void findDist() {
        dist = Path.of(System.getProperty("user.dir")).resolveSibling("cli").resolve("target/qt");
        assertThat(dist.resolve("qingtian-cli.jar")).exists();
    }

    static Run qt(Path cwd, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", dist.resolve("qingtian-cli.jar") + ":" + dist.resolve("lib") + "/*", "io.qingtian.cli.Qt"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("qt timed out: " + String.join(" ", args));
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    public static void assertOneLineRefusal(Run r, String... contains) {
        assertThat(r.exit()).as(r.err()).isNotZero();
        assertThat(r.err().strip().lines().count()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).startsWith("qt: ").doesNotContain("Exception").doesNotContain("\tat ");
        for (String c : contains) {
            assertThat(r.err()).contains(c);
        }
    }

    @Test
    void signVerifyMeasureAttestRoundTrip(@TempDir Path dir) throws Exception {
        Random rnd = new Random(3);
        byte[] kernel = new byte[1 << 20];
        rnd.nextBytes(kernel);
        Files.write(dir.resolve("vmlinuz"), kernel);
        Files.write(dir.resolve("initrd"), new byte[4096]);

        Run keygen = qt(dir, "image", "keygen", "--out", "img");
        assertThat(keygen.exit()).as(keygen.err()).isZero();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("img.key")))).isEqualTo("rw-------");
        assertThat(qt(dir, "image", "keygen", "--out", "img").exit()).isNotZero(); // never overwrites a key

        Run sign = qt(dir, "image", "sign", "--key", "img.key", "--kernel", "vmlinuz", "--initramfs", "initrd",
                "--cmdline", "console=ttyS0", "--out", "boot.json");
        assertThat(sign.exit()).as(sign.err()).isZero();
        assertThat(dir.resolve("boot.json.sig")).hasSize(64);

        Run ok = qt(dir, "image", "verify", "--trust", "img.pub", "boot.json");
        assertThat(ok.exit()).as(ok.err()).isZero();
        assertThat(ok.out().strip().lines().count()).isEqualTo(1);
        assertThat(ok.out()).startsWith("OK ");

        Run measure = qt(dir, "image", "measure", "--trust", "img.pub", "--state", "state", "--instance", "vm1", "boot.json");
        assertThat(measure.exit()).as(measure.err()).isZero();
        Matcher m = Pattern.compile("PCR1 ([0-9a-f]{96})").matcher(measure.out());
        assertThat(m.find()).as(measure.out()).isTrue();
        String pcr1 = m.group(1);
        // PCR4: the ACPI tables of a 1-vCPU, 256 MiB launch (the card API's defaults), as the hypervisor builds them
        assertThat(measure.out()).contains("PCR4 " + io.qingtian.acpi.AcpiMeasurement.of(
                io.qingtian.acpi.GuestPlatform.forGuest(1, 256L << 20).tables()).pcrValueHex());

        Files.writeString(dir.resolve("ud"), "tenant data");
        Run req = qt(dir, "attest", "request", "--offline", "--state", "state", "--instance", "vm1", "--nonce", "c0ffee",
                "--user-data", "ud", "--out", "doc.cose");
        assertThat(req.exit()).as(req.err()).isZero();
        Path root = dir.resolve("state/keys/card-root.crt");

        Run verify = qt(dir, "attest", "verify", "doc.cose", "--root", root.toString(), "--nonce", "c0ffee", "--pcr", "1=" + pcr1);
        assertThat(verify.exit()).as(verify.err()).isZero();
        assertThat(verify.out()).contains("OK").contains("vm1");

        assertOneLineRefusal(qt(dir, "attest", "verify", "doc.cose", "--root", root.toString(), "--nonce", "c0ffef"), "nonce");
        String wrongPcr = (pcr1.charAt(0) == '0' ? "1" : "0") + pcr1.substring(1);
        assertOneLineRefusal(qt(dir, "attest", "verify", "doc.cose", "--root", root.toString(), "--nonce", "c0ffee",
                "--pcr", "1=" + wrongPcr), "PCR1");
        Run otherCard = qt(dir, "attest", "request", "--offline", "--state", "other", "--nonce", "00", "--out", "other.cose");
        assertThat(otherCard.exit()).as(otherCard.err()).isZero();
        assertOneLineRefusal(qt(dir, "attest", "verify", "doc.cose", "--root", "other/keys/card-root.crt", "--nonce", "c0ffee"),
                "unknown root");
        byte[] doc = Files.readAllBytes(dir.resolve("doc.cose"));
        doc[doc.length / 2] ^= 0x10;
        Files.write(dir.resolve("flipped.cose"), doc);
        assertOneLineRefusal(qt(dir, "attest", "verify", "flipped.cose", "--root", root.toString(), "--nonce", "c0ffee"));

        // A flipped byte in the kernel: verify names the file, measure refuses too.
        kernel[1000] ^= 1;
        Files.write(dir.resolve("vmlinuz"), kernel);
        assertOneLineRefusal(qt(dir, "image", "verify", "--trust", "img.pub", "boot.json"), "vmlinuz", "SHA-384 mismatch");
        assertOneLineRefusal(qt(dir, "image", "measure", "--trust", "img.pub", "--state", "state", "boot.json"), "vmlinuz");
    }

    @Test
    void passphraseProtectedSigningKey(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("pass"), "correct horse battery staple\n");
        Files.setPosixFilePermissions(dir.resolve("pass"), PosixFilePermissions.fromString("rw-------"));
        Files.write(dir.resolve("k"), new byte[] {1, 2, 3});
        assertThat(qt(dir, "image", "keygen", "--out", "img", "--passphrase-file", "pass").exit()).isZero();
        assertThat(Files.readString(dir.resolve("img.key"))).contains("QINGTIAN WRAPPED PRIVATE KEY");
        assertOneLineRefusal(qt(dir, "image", "sign", "--key", "img.key", "--kernel", "k", "--out", "m.json"),
                "protected by a passphrase");
        Run sign = qt(dir, "image", "sign", "--key", "img.key", "--passphrase-file", "pass", "--kernel", "k", "--out", "m.json");
        assertThat(sign.exit()).as(sign.err()).isZero();
        assertThat(qt(dir, "image", "verify", "--trust", "img.pub", "m.json").exit()).isZero();
    }

    @Test
    void malformedInputsAreOneLineErrors(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("junk"), "junk");
        Files.writeString(dir.resolve("junk.sig"), "junk");
        assertOneLineRefusal(qt(dir, "image", "verify", "--trust", "junk", "junk"), "junk", "PUBLIC KEY");
        assertThat(qt(dir, "image", "keygen", "--out", "k").exit()).isZero();
        assertOneLineRefusal(qt(dir, "image", "verify", "--trust", "k.pub", "junk"), "junk", "not an Ed25519 signature");
        assertOneLineRefusal(qt(dir, "image", "verify", "--trust", "k.pub", "missing.json"), "missing.json");
        assertOneLineRefusal(qt(dir, "image", "sign", "--key", "k.pub", "--kernel", "junk", "--out", "m.json"), "k.pub");
        Files.setPosixFilePermissions(dir.resolve("k.key"), PosixFilePermissions.fromString("rw-r--r--"));
        assertOneLineRefusal(qt(dir, "image", "sign", "--key", "k.key", "--kernel", "junk", "--out", "m.json"), "too open");
        assertOneLineRefusal(qt(dir, "attest", "verify", "junk", "--root", "junk", "--nonce", "00"), "junk", "CERTIFICATE");
        assertOneLineRefusal(qt(dir, "attest", "request", "--state", "st", "--nonce", "xyz", "--out", "d"), "--nonce");
        // no card runs on st: the online request says so and points at --offline
        assertOneLineRefusal(qt(dir, "attest", "request", "--state", "st", "--nonce", "00", "--out", "d"), "not running", "--offline");
        Run offline = qt(dir, "attest", "request", "--offline", "--state", "st", "--nonce", "00", "--out", "d");
        assertThat(offline.exit()).as(offline.err()).isZero();
        assertThat(offline.out()).contains("OFFLINE");
        assertOneLineRefusal(qt(dir, "attest", "verify", "junk", "--root", "st/keys/card-root.crt", "--nonce", "00"), "CBOR");
        assertOneLineRefusal(qt(dir, "attest", "verify", "d", "--root", "st/keys/card-root.crt", "--nonce", "00",
                "--pcr", "x=00"), "--pcr");
    }
}
