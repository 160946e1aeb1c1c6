package io.qingtian.trust.image;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.KeyFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The operator-configured image-signing keys: Ed25519 public keys in SubjectPublicKeyInfo PEM
 * (what {@code qt image keygen} and {@code openssl pkey -pubout} write). A manifest is accepted
 * when any anchor's signature verifies.
 */
public record TrustAnchors(List<Anchor> anchors) {
    /** One key and where it came from (the name appears in refusals and in the event log). */
    public record Anchor(String name, PublicKey key) {}

    public TrustAnchors {
        anchors = List.copyOf(anchors);
        if (anchors.isEmpty()) {
            throw new IllegalArgumentException("no trust anchors");
        }
    }

    /** Loads one key file, or every {@code *.pub}/{@code *.pem} file of a directory. */
    public static TrustAnchors load(Path fileOrDir) throws TrustException {
        List<Anchor> list = new ArrayList<>();
        if (Files.isDirectory(fileOrDir)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(fileOrDir)) {
                files = s.filter(p -> p.toString().endsWith(".pub") || p.toString().endsWith(".pem")).sorted().toList();
            } catch (IOException e) {
                throw new TrustException(fileOrDir + ": cannot list trust anchors: " + e.getMessage(), e);
            }
            for (Path f : files) {
                list.add(new Anchor(f.getFileName().toString(), KeyFiles.readPublic(f, "Ed25519")));
            }
            if (list.isEmpty()) {
                throw new TrustException(fileOrDir + ": directory holds no *.pub or *.pem trust anchors");
            }
        } else {
            list.add(new Anchor(fileOrDir.getFileName().toString(), KeyFiles.readPublic(fileOrDir, "Ed25519")));
        }
        return new TrustAnchors(list);
    }

    public static TrustAnchors of(String name, PublicKey key) {
        return new TrustAnchors(List.of(new Anchor(name, key)));
    }
}
