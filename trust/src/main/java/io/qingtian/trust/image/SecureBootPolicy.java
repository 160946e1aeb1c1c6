package io.qingtian.trust.image;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.crypto.Sha384;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * Secure boot: before an instance launches with a manifest, the card checks (1) the detached
 * signature against the operator's trust anchors, (2) the manifest's content, (3) each file it
 * names, read once into memory and hashed; the verdict carries those very bytes so the launch
 * uses what was checked (no time-of-check/time-of-use gap). Any failure is a {@link
 * BootVerdict.Refused} naming the file and the reason; nothing here throws for bad input.
 */
public final class SecureBootPolicy {
    /** A kernel or initramfs beyond this is refused rather than read into memory. */
    public static final long MAX_IMAGE_BYTES = 1L << 30;

    private final TrustAnchors anchors;

    public SecureBootPolicy(TrustAnchors anchors) {
        this.anchors = anchors;
    }

    public TrustAnchors anchors() {
        return anchors;
    }

    /** Verifies {@code manifest} with its detached signature {@code manifest + ".sig"}. */
    public BootVerdict verify(Path manifest) {
        return verify(manifest, signatureFileOf(manifest));
    }

    public static Path signatureFileOf(Path manifest) {
        return manifest.resolveSibling(manifest.getFileName() + ".sig");
    }

    public BootVerdict verify(Path manifest, Path signature) {
        byte[] manifestBytes;
        byte[] sig;
        try {
            manifestBytes = KeyFiles.readSmall(manifest, BootManifest.MAX_BYTES);
        } catch (TrustException e) {
            return refused(manifest, e);
        }
        try {
            sig = KeyFiles.readSmall(signature, 4096);
        } catch (TrustException e) {
            return refused(signature, e);
        }
        if (sig.length != Ed25519.SIGNATURE_LENGTH) {
            return new BootVerdict.Refused(signature.toString(),
                    "not an Ed25519 signature (" + sig.length + " bytes, expected 64)");
        }
        TrustAnchors.Anchor signer = null;
        for (TrustAnchors.Anchor a : anchors.anchors()) {
            if (Ed25519.verify(a.key(), manifestBytes, sig)) {
                signer = a;
                break;
            }
        }
        if (signer == null) {
            return new BootVerdict.Refused(manifest.toString(),
                    "signature " + signature.getFileName() + " does not verify with any trust anchor");
        }
        BootManifest m;
        try {
            m = BootManifest.parse(manifest.toString(), manifestBytes);
        } catch (TrustException e) {
            return refused(manifest, e);
        }
        Path dir = manifest.toAbsolutePath().getParent();
        Object kernel = readAndCheck(m.kernel(), dir, "kernel");
        if (kernel instanceof BootVerdict.Refused r) {
            return r;
        }
        Optional<BootVerdict.VerifiedFile> initramfs = Optional.empty();
        if (m.initramfs().isPresent()) {
            Object i = readAndCheck(m.initramfs().get(), dir, "initramfs");
            if (i instanceof BootVerdict.Refused r) {
                return r;
            }
            initramfs = Optional.of((BootVerdict.VerifiedFile) i);
        }
        return new BootVerdict.Verified(m, signer, Sha384.of(manifestBytes), (BootVerdict.VerifiedFile) kernel,
                initramfs, m.cmdline());
    }

    /**
     * The card launching with a cmdline of its own (or the user's) must call this: the cmdline the
     * instance gets must be the manifest's, byte for byte.
     */
    public static Optional<BootVerdict.Refused> checkCmdline(BootVerdict.Verified v, Path manifest, String launchCmdline) {
        if (!v.cmdline().equals(launchCmdline)) {
            return Optional.of(new BootVerdict.Refused(manifest.toString(),
                    "cmdline differs from the signed one (signed sha384 " + Hex.of(v.manifest().cmdlineSha384()).substring(0, 16)
                            + "..., launch sha384 " + Hex.of(Sha384.of(launchCmdline.getBytes(java.nio.charset.StandardCharsets.UTF_8))).substring(0, 16) + "...)"));
        }
        return Optional.empty();
    }

    private static Object readAndCheck(BootManifest.FileRef ref, Path dir, String role) {
        Path p = ref.resolve(dir);
        byte[] content;
        try {
            if (!Files.isRegularFile(p)) {
                return new BootVerdict.Refused(p.toString(), role + " named by the manifest does not exist");
            }
            long size = Files.size(p);
            if (size > MAX_IMAGE_BYTES) {
                return new BootVerdict.Refused(p.toString(), role + " is larger than " + MAX_IMAGE_BYTES + " bytes");
            }
            content = Files.readAllBytes(p);
        } catch (IOException e) {
            return new BootVerdict.Refused(p.toString(), "cannot read " + role + ": " + e.getMessage());
        }
        byte[] actual = Sha384.of(content);
        if (!Arrays.equals(actual, ref.sha384())) {
            return new BootVerdict.Refused(p.toString(), role + " SHA-384 mismatch: manifest has "
                    + Hex.of(ref.sha384()).substring(0, 16) + "..., file has " + Hex.of(actual).substring(0, 16) + "...");
        }
        return new BootVerdict.VerifiedFile(p, actual, MemorySegment.ofArray(content));
    }

    private static BootVerdict.Refused refused(Path file, TrustException e) {
        String msg = e.getMessage();
        String prefix = file + ": ";
        return new BootVerdict.Refused(file.toString(), msg.startsWith(prefix) ? msg.substring(prefix.length()) : msg);
    }
}
