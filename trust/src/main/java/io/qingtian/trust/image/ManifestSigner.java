package io.qingtian.trust.image;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.Sha384;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.PrivateKey;
import java.util.Optional;

/** Writes a boot manifest for the given files and its detached Ed25519 signature. */
public final class ManifestSigner {
    private ManifestSigner() {}

    /**
     * Hashes {@code kernel} (and {@code initramfs}), writes {@code out} and {@code out.sig}.
     * Files inside the manifest's directory are recorded relative to it (the set can be moved as
     * a whole), others by absolute path.
     */
    public static BootManifest sign(PrivateKey key, Path kernel, Optional<Path> initramfs, String cmdline, Path out)
            throws TrustException {
        Path dir = out.toAbsolutePath().normalize().getParent();
        BootManifest m = BootManifest.of(ref(dir, kernel, "kernel"), initramfs.isPresent()
                ? Optional.of(ref(dir, initramfs.get(), "initramfs")) : Optional.empty(), cmdline);
        byte[] json = m.toJson();
        byte[] sig = Ed25519.sign(key, json);
        try {
            Files.write(out, json, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            Files.write(SecureBootPolicy.signatureFileOf(out), sig,
                    StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new TrustException(out + ": cannot write manifest: " + e.getMessage(), e);
        }
        return m;
    }

    private static BootManifest.FileRef ref(Path manifestDir, Path file, String role) throws TrustException {
        if (!Files.isRegularFile(file)) {
            throw new TrustException(file + ": " + role + " does not exist");
        }
        Path abs = file.toAbsolutePath().normalize();
        String path = abs.startsWith(manifestDir) ? manifestDir.relativize(abs).toString() : abs.toString();
        try {
            return new BootManifest.FileRef(path, Sha384.ofFile(abs));
        } catch (IOException e) {
            throw new TrustException(file + ": cannot read " + role + ": " + e.getMessage(), e);
        }
    }
}
