package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The JDK 25 runtime that runs inside L1: a {@code jlink} image with only the modules the
 * project's jars need ({@code jdeps --print-module-deps}, plus {@code java.base} and
 * {@code jdk.unsupported}, plus {@code $QT_LAB_JDK_MODULES}), with a default CDS archive
 * (halves {@code java -version} in L1), and the host glibc libraries it links ({@code ldd}),
 * laid out as {@code jdk/} and {@code glibc/lib...} under one cache directory. The image maps its
 * archives at their base address ({@link #VM_OPTIONS}).
 */
final class JavaRuntime {
    /**
     * Options baked into the image (jlink --add-options; unlike JDK_JAVA_OPTIONS they print no
     * "Picked up" note). By default the JVM maps its CDS/AOT archive at a random address and
     * relocates every pointer in it; under TCG in L1 that alone took 20-35 s of a 25-40 s
     * {@code java -version} on a loaded host, against ~5 s when mapped at its base address.
     */
    static final String VM_OPTIONS = "-XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0";

    private static final Pattern LDD_PATH = Pattern.compile("(?:=>\\s*)?(/\\S+)\\s+\\(0x");

    private JavaRuntime() {}

    /** The cached runtime directory and its cache key. */
    record Image(Path dir, String key) {
        Path java() {
            return dir.resolve("jdk/bin/java");
        }
    }

    static Image build(LabCache cache, Path javaHome, Path dist) throws IOException {
        Path jlink = javaHome.resolve("bin/jlink");
        if (!Files.isExecutable(jlink)) {
            throw new UserError("lab: " + javaHome + " is not a JDK (no bin/jlink); set JAVA_HOME to a JDK 25");
        }
        TreeSet<String> modules = new TreeSet<>(List.of("java.base", "jdk.unsupported"));
        modules.addAll(requiredModules(cache, javaHome, dist));
        String extra = System.getenv("QT_LAB_JDK_MODULES");
        if (extra != null && !extra.isBlank()) {
            modules.addAll(List.of(extra.strip().split("\\s*,\\s*")));
        }
        String release = Files.readString(javaHome.resolve("release"));
        String glibc = HostTools.run(null, 30, List.of("ldd", "--version")).stdout().lines().findFirst().orElse("");
        String key = LabCache.hash(List.of(release, String.join(",", modules), glibc, VM_OPTIONS));
        Path dir = cache.directory("jdk", key, out -> {
            System.err.println("lab: jlink " + String.join(",", modules));
            HostTools.check(null, 600, "jlink", List.of(jlink.toString(), "--add-modules", String.join(",", modules),
                    "--strip-debug", "--no-header-files", "--no-man-pages", "--generate-cds-archive",
                    "--add-options=" + VM_OPTIONS,
                    "--output", out.resolve("jdk").toString()));
            copyLinkedLibraries(out.resolve("jdk"), out.resolve("glibc"));
        });
        return new Image(dir, key);
    }

    /** jdeps over the project's jars; cached by their content hash (jdeps takes seconds). */
    private static List<String> requiredModules(LabCache cache, Path javaHome, Path dist) throws IOException {
        List<Path> jars = jars(dist);
        Path result = cache.file("jdeps", LabCache.hash(new ArrayList<Object>(jars)), out -> {
            List<String> cmd = new ArrayList<>(List.of(javaHome.resolve("bin/jdeps").toString(), "--print-module-deps",
                    "--ignore-missing-deps", "--multi-release", "25"));
            jars.forEach(j -> cmd.add(j.toString()));
            Files.writeString(out, HostTools.check(null, 300, "jdeps", cmd).strip());
        });
        String s = Files.readString(result).strip();
        return s.isEmpty() ? List.of() : List.of(s.split(","));
    }

    static List<Path> jars(Path dist) throws IOException {
        List<Path> jars = new ArrayList<>();
        jars.add(dist.resolve("qingtian-cli.jar"));
        try (Stream<Path> s = Files.list(dist.resolve("lib"))) {
            s.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(jars::add);
        }
        return jars;
    }

    /** Copies every shared library the runtime's ELF files link (per ldd) to {@code into/ABSOLUTE_PATH}. */
    private static void copyLinkedLibraries(Path jdk, Path into) throws IOException {
        List<Path> elves;
        try (Stream<Path> s = Files.walk(jdk)) {
            elves = s.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().endsWith(".so") || p.getParent().getFileName().toString().equals("bin"))
                    .toList();
        }
        TreeSet<String> libs = new TreeSet<>();
        for (Path elf : elves) {
            HostTools.Output o = HostTools.run(null, 30, List.of("ldd", elf.toString()));
            Matcher m = LDD_PATH.matcher(o.stdout());
            while (m.find()) {
                if (!m.group(1).startsWith(jdk.toString())) {
                    libs.add(m.group(1));
                }
            }
        }
        if (libs.stream().noneMatch(l -> l.contains("ld-linux"))) {
            throw new UserError("lab: ldd found no dynamic loader for " + jdk.resolve("bin/java"));
        }
        for (String lib : libs) {
            Path target = into.resolve(lib.substring(1));
            Files.createDirectories(target.getParent());
            Files.copy(Path.of(lib), target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
