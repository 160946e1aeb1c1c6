package io.qingtian.trust.measure;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Sha384;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The PCR0 input: one SHA-384 over a set of jars, independent of the order they are given in
 * and of where they sit: SHA-384 over, for each jar sorted by file name,
 * {@code name || 0x00 || SHA-384(jar bytes)}.
 */
public final class HypervisorBuild {
    private HypervisorBuild() {}

    public static byte[] digest(List<Path> jars) throws TrustException {
        List<Path> sorted = new ArrayList<>(jars);
        sorted.sort(Comparator.comparing(p -> p.getFileName().toString()));
        MessageDigest md = Sha384.newDigest();
        for (Path jar : sorted) {
            try {
                md.update(jar.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
                md.update(Sha384.ofFile(jar));
            } catch (IOException e) {
                throw new TrustException(jar + ": cannot read hypervisor jar: " + e.getMessage(), e);
            }
        }
        return md.digest();
    }

    /** The jars on this JVM's class path (what {@code ./qt} runs: cli/target/qt/{qingtian-cli.jar,lib/*}). */
    public static List<Path> classPathJars() {
        List<Path> jars = new ArrayList<>();
        for (String e : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (e.endsWith(".jar") && Files.isRegularFile(Path.of(e))) {
                jars.add(Path.of(e));
            }
        }
        return jars;
    }
}
