package io.qingtian.trust.image;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Optional;

/** The outcome of {@link SecureBootPolicy#verify}: launch exactly these bytes, or refuse. */
public sealed interface BootVerdict {

    /**
     * The manifest's signature verified with {@code anchor}, and every file's bytes were read once
     * and match. The card must launch these bytes (not re-open the paths: a file could be swapped
     * between check and use) and measure the same bytes.
     */
    record Verified(BootManifest manifest, TrustAnchors.Anchor anchor, byte[] manifestSha384,
                    VerifiedFile kernel, Optional<VerifiedFile> initramfs, String cmdline) implements BootVerdict {}

    /** Refused: {@code file} is the file at fault, {@code reason} says why. */
    record Refused(String file, String reason) implements BootVerdict {
        /** One line for the operator: "FILE: REASON". */
        public String message() {
            return file + ": " + reason;
        }
    }

    /** A file read whole and checked; {@code content} is read-only. */
    record VerifiedFile(java.nio.file.Path path, byte[] sha384, MemorySegment content) {
        public VerifiedFile {
            sha384 = sha384.clone();
            content = content.asReadOnly();
        }

        @Override
        public byte[] sha384() {
            return sha384.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof VerifiedFile f && f.path.equals(path) && Arrays.equals(f.sha384, sha384);
        }

        @Override
        public int hashCode() {
            return path.hashCode();
        }
    }
}
