package io.qingtian.trust.cli;

import io.qingtian.sys.UserError;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.image.BootVerdict;
import io.qingtian.trust.image.ManifestSigner;
import io.qingtian.trust.image.SecureBootPolicy;
import io.qingtian.trust.image.TrustAnchors;
import io.qingtian.trust.measure.HypervisorBuild;
import io.qingtian.trust.measure.MeasuredBoot;
import io.qingtian.trust.measure.MeasurementStore;
import io.qingtian.trust.release.ReleaseVerifier;
import io.qingtian.trust.release.RunningRelease;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.security.KeyPair;
import java.util.Map;
import java.util.Optional;

/** {@code qt image ...}: image-signing keys, signed boot manifests, and their verification. */
@Command(name = "image", mixinStandardHelpOptions = true, description = "Sign and verify boot manifests (secure boot).",
        subcommands = {ImageCommand.Keygen.class, ImageCommand.Sign.class, ImageCommand.Verify.class,
                ImageCommand.Measure.class, ImageCommand.SignRelease.class, ImageCommand.VerifyRelease.class})
public final class ImageCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "keygen", mixinStandardHelpOptions = true, description = "Generate an Ed25519 signing key: PREFIX.key (0600) and PREFIX.pub.")
    static final class Keygen implements Runnable {
        @Option(names = "--out", required = true, paramLabel = "PREFIX") Path prefix;
        @Option(names = "--passphrase-file", paramLabel = "FILE", description = "Wrap the private key under this passphrase.")
        Path passphraseFile;

        @Override
        public void run() {
            KeyPair kp = Ed25519.generate();
            Path key = Path.of(prefix + ".key");
            Path pub = Path.of(prefix + ".pub");
            try {
                KeyFiles.writePrivate(key, kp.getPrivate(), Cli.passphrase(passphraseFile), false);
                KeyFiles.writePublic(pub, kp.getPublic(), false);
            } catch (TrustException e) {
                throw Cli.error(e, 2);
            }
            System.out.println("wrote " + key + " (private, 0600) and " + pub + " (public)");
        }
    }

    @Command(name = "sign", mixinStandardHelpOptions = true, description = "Write a boot manifest for KERNEL [INITRAMFS] [CMDLINE] and its detached signature MANIFEST.sig.")
    static final class Sign implements Runnable {
        @Option(names = "--key", required = true, paramLabel = "PRIVATE_KEY") Path key;
        @Option(names = "--kernel", required = true, paramLabel = "K") Path kernel;
        @Option(names = "--initramfs", paramLabel = "I") Path initramfs;
        @Option(names = "--cmdline", paramLabel = "TEXT", defaultValue = "") String cmdline;
        @Option(names = "--out", required = true, paramLabel = "MANIFEST") Path out;
        @Option(names = "--passphrase-file", paramLabel = "FILE") Path passphraseFile;

        @Override
        public void run() {
            try {
                ManifestSigner.sign(KeyFiles.readPrivate(key, "Ed25519", Cli.passphrase(passphraseFile)),
                        kernel, Optional.ofNullable(initramfs), cmdline, out);
            } catch (TrustException e) {
                throw Cli.error(e, 2);
            }
            System.out.println("wrote " + out + " and " + SecureBootPolicy.signatureFileOf(out));
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, description = "Verify MANIFEST's signature against the trust anchor(s) and re-hash the files it names.")
    static final class Verify implements Runnable {
        @Option(names = "--trust", required = true, paramLabel = "PUBLIC_KEY",
                description = "An Ed25519 public key (PEM), or a directory of them.") Path trust;
        @Parameters(paramLabel = "MANIFEST") Path manifest;

        @Override
        public void run() {
            BootVerdict v = policy(trust).verify(manifest);
            switch (v) {
                case BootVerdict.Refused r -> throw Cli.error(r.message(), Cli.REFUSED);
                case BootVerdict.Verified ok -> System.out.println("OK " + manifest + ": signed by " + ok.anchor().name()
                        + ", kernel" + (ok.initramfs().isPresent() ? ", initramfs" : "") + " and cmdline match");
            }
        }
    }

    @Command(name = "measure", mixinStandardHelpOptions = true, description = "Verify MANIFEST and record its measurements in the card state (as a launch would); print the PCRs.")
    static final class Measure implements Runnable {
        @Option(names = "--trust", required = true, paramLabel = "PUBLIC_KEY") Path trust;
        @Option(names = "--state", required = true, paramLabel = "DIR") Path state;
        @Option(names = "--instance", defaultValue = "default", paramLabel = "NAME") String instance;
        @Option(names = "--cpus", defaultValue = "1", paramLabel = "N",
                description = "vCPUs of the launch (PCR4: the ACPI tables depend on them; default ${DEFAULT-VALUE}, as the card API)")
        int cpus;
        @Option(names = "--memory-mib", defaultValue = "256", paramLabel = "M",
                description = "guest memory in MiB (PCR4; default ${DEFAULT-VALUE}, as the card API)")
        int memoryMib;
        @Parameters(paramLabel = "MANIFEST") Path manifest;

        @Override
        public void run() {
            BootVerdict v = policy(trust).verify(manifest);
            if (v instanceof BootVerdict.Refused r) {
                throw Cli.error(r.message(), Cli.REFUSED);
            }
            try {
                MeasuredBoot mb = new MeasuredBoot()
                        .hypervisor(HypervisorBuild.digest(HypervisorBuild.classPathJars()), "qt build (class path jars)")
                        .verifiedImage((BootVerdict.Verified) v);
                if (cpus < 1 || cpus > 254 || memoryMib < 16) {
                    throw Cli.error("--cpus must be 1..254 and --memory-mib at least 16", 2);
                }
                mb.acpiTables(io.qingtian.acpi.GuestPlatform.forGuest(cpus, (long) memoryMib << 20).tables());
                new MeasurementStore(state).save(instance, mb.eventLog());
                for (Map.Entry<Integer, byte[]> e : mb.pcrValues().entrySet()) {
                    if (!java.util.Arrays.equals(e.getValue(), new byte[48])) {
                        System.out.println("PCR" + e.getKey() + " " + Hex.of(e.getValue()));
                    }
                }
            } catch (TrustException e) {
                throw Cli.error(e, 2);
            }
        }
    }

    @Command(name = "sign-release", description = "Write DIR/release.json (+ .sig) listing every jar under DIR with VERSION.")
    static final class SignRelease implements Runnable {
        @Option(names = "--key", required = true, paramLabel = "PRIVATE_KEY") Path key;
        @Option(names = "--version", required = true, paramLabel = "N", description = "Release version (anti-rollback number).")
        long version;
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.") boolean help;
        @Option(names = "--dir", required = true, paramLabel = "DIR") Path dir;

        @Override
        public void run() {
            try {
                var m = ReleaseVerifier.sign(dir, version, KeyFiles.readPrivate(key, "Ed25519", null));
                System.out.println("wrote " + dir.resolve("release.json") + ": release " + m.version() + ", " + m.jars().size() + " jars");
            } catch (TrustException e) {
                throw Cli.error(e, 2);
            }
        }
    }

    @Command(name = "verify-release", mixinStandardHelpOptions = true, description = "Check card software: the jars of DIR (default: this qt's install) against its signed release.json.")
    static final class VerifyRelease implements Runnable {
        @Option(names = "--key", required = true, paramLabel = "RELEASE_PUBLIC_KEY") Path key;
        @Option(names = "--dir", paramLabel = "DIR") Path dir;

        @Override
        public void run() {
            try {
                var m = dir == null ? RunningRelease.verify(key)
                        : ReleaseVerifier.check(dir, KeyFiles.readPublic(key, "Ed25519"));
                System.out.println("OK release " + m.version() + ": " + m.jars().size() + " jars match");
            } catch (TrustException e) {
                throw Cli.error(e, Cli.REFUSED);
            }
        }
    }

    static SecureBootPolicy policy(Path trust) {
        try {
            return new SecureBootPolicy(TrustAnchors.load(trust));
        } catch (TrustException e) {
            throw Cli.error(e, 2);
        } catch (UserError e) {
            throw e;
        }
    }
}
