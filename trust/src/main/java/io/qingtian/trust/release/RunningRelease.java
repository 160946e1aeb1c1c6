package io.qingtian.trust.release;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.KeyFiles;

import java.io.File;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The card checking its own software at start: finds the install directory of this JVM (the
 * directory of {@code qingtian-cli.jar} on the class path: cli/target/qt or a release slot) and
 * verifies it against its signed {@code release.json}.
 */
public final class RunningRelease {
    public static final String CLI_JAR = "qingtian-cli.jar";

    private RunningRelease() {}

    /** Empty when not running from a packaged install (e.g. from classes directories in tests). */
    public static Optional<Path> installDir() {
        for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            Path p = Path.of(e);
            if (p.getFileName() != null && p.getFileName().toString().equals(CLI_JAR)) {
                return Optional.of(p.toAbsolutePath().getParent());
            }
        }
        return Optional.empty();
    }

    /**
     * Verifies the running install with the release public key in {@code releaseKeyFile}; throws
     * with one line naming the tampered, missing or extra jar. The card must exit non-zero then.
     */
    public static ReleaseManifest verify(Path releaseKeyFile) throws TrustException {
        Path dir = installDir().orElseThrow(() ->
                new TrustException("card software check: not running from a packaged install (no " + CLI_JAR + " on the class path)"));
        return ReleaseVerifier.check(dir, KeyFiles.readPublic(releaseKeyFile, "Ed25519"));
    }
}
