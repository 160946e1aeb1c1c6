package io.qingtian.trust.release;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.Sha384;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Card software integrity: the jars of an install directory must be exactly those of a release
 * manifest signed by the release key: every listed jar present with its SHA-384, no jar that is
 * not listed (an added jar on the class path is tampering too).
 */
public final class ReleaseVerifier {
    private ReleaseVerifier() {}

    /**
     * Checks {@code installDir} (e.g. cli/target/qt: qingtian-cli.jar and lib/*.jar) against
     * {@code installDir/release.json} and its signature. Returns the verified manifest, or throws
     * with one line naming the offending jar.
     */
    public static ReleaseManifest check(Path installDir, PublicKey releaseKey) throws TrustException {
        return check(installDir, installDir.resolve(ReleaseManifest.FILE), releaseKey);
    }

    public static ReleaseManifest check(Path jarsDir, Path manifest, PublicKey releaseKey) throws TrustException {
        byte[] bytes = KeyFiles.readSmall(manifest, ReleaseManifest.MAX_BYTES);
        Path sigFile = manifest.resolveSibling(manifest.getFileName() + ".sig");
        byte[] sig = KeyFiles.readSmall(sigFile, 4096);
        if (!Ed25519.verify(releaseKey, bytes, sig)) {
            throw new TrustException(manifest + ": release manifest signature does not verify with the release key");
        }
        ReleaseManifest m = ReleaseManifest.parse(manifest.toString(), bytes);
        for (Map.Entry<String, byte[]> e : m.jars().entrySet()) {
            Path jar = jarsDir.resolve(e.getKey());
            if (!Files.isRegularFile(jar)) {
                throw new TrustException("card jar " + e.getKey() + " is missing from " + jarsDir + " (release " + m.version() + ")");
            }
            byte[] actual;
            try {
                actual = Sha384.ofFile(jar);
            } catch (IOException ex) {
                throw new TrustException("card jar " + jar + " cannot be read: " + ex.getMessage());
            }
            if (!Arrays.equals(actual, e.getValue())) {
                throw new TrustException("card jar " + jar + " was modified: SHA-384 " + Hex.of(actual).substring(0, 16)
                        + "... does not match release " + m.version() + " (" + Hex.of(e.getValue()).substring(0, 16) + "...)");
            }
        }
        for (String present : jarsUnder(jarsDir).keySet()) {
            if (!m.jars().containsKey(present)) {
                throw new TrustException("card jar " + jarsDir.resolve(present) + " is not part of release " + m.version());
            }
        }
        return m;
    }

    /** Every *.jar below {@code dir}, by relative path with '/' separators. */
    static Map<String, Path> jarsUnder(Path dir) throws TrustException {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir, 4)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p)) {
                    out.put(dir.relativize(p).toString().replace('\\', '/'), p);
                }
            }
        } catch (IOException e) {
            throw new TrustException(dir + ": cannot list jars: " + e.getMessage(), e);
        }
        return out;
    }

    /** Writes {@code dir/release.json} and its signature for every jar under {@code dir}. */
    public static ReleaseManifest sign(Path dir, long version, PrivateKey releaseKey) throws TrustException {
        Map<String, byte[]> jars = new TreeMap<>();
        for (Map.Entry<String, Path> e : jarsUnder(dir).entrySet()) {
            try {
                jars.put(e.getKey(), Sha384.ofFile(e.getValue()));
            } catch (IOException ex) {
                throw new TrustException(e.getValue() + ": cannot read: " + ex.getMessage(), ex);
            }
        }
        if (jars.isEmpty()) {
            throw new TrustException(dir + ": no jars to sign");
        }
        ReleaseManifest m = new ReleaseManifest(version, jars);
        byte[] json = m.toJson();
        try {
            Files.write(dir.resolve(ReleaseManifest.FILE), json);
            Files.write(dir.resolve(ReleaseManifest.SIGNATURE_FILE), Ed25519.sign(releaseKey, json));
        } catch (IOException e) {
            throw new TrustException(dir + ": cannot write release manifest: " + e.getMessage(), e);
        }
        return m;
    }

    static List<String> names(ReleaseManifest m) {
        return List.copyOf(m.jars().keySet());
    }
}
