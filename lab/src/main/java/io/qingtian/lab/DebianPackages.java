package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The lab's inputs come from Debian packages, fetched with the ordinary tools only:
 * {@code apt-cache} to resolve names and versions, {@code apt-get download} to fetch a .deb
 * (no installation, no root needed for the download itself), {@code dpkg-deb -x} to unpack it.
 * Each unpacked package is cached under {@code debs/NAME_VERSION}, so it is fetched once.
 */
final class DebianPackages {
    private static final long APT_TIMEOUT_S = 300;
    private final LabCache cache;

    DebianPackages(LabCache cache) {
        this.cache = cache;
    }

    /** The package {@code meta} depends on whose name matches {@code pattern} (e.g. the current kernel). */
    String resolveDependency(String meta, Pattern pattern) throws IOException {
        HostTools.require("apt-cache", "apt");
        HostTools.Output o = HostTools.run(null, 60, List.of("apt-cache", "depends", meta));
        Matcher m = Pattern.compile("^\\s*Depends:\\s*(\\S+)\\s*$", Pattern.MULTILINE).matcher(o.stdout());
        while (m.find()) {
            if (pattern.matcher(m.group(1)).matches()) {
                return m.group(1);
            }
        }
        throw new UserError("lab: cannot resolve the Debian package '" + meta + "' (apt-cache depends " + meta
                + " names no " + pattern.pattern() + "): run 'apt-get update' with a reachable Debian mirror"
                + (o.stderr().isBlank() ? "" : " (" + HostTools.lastLines(o.stderr().strip(), 1) + ")"));
    }

    /**
     * {@code [package, version]} of the dependency of {@code meta} matching {@code pattern}. apt-cache
     * takes seconds here, so the answer is remembered under a key made of the apt package lists'
     * names, sizes and times: it is asked again only after an {@code apt-get update}.
     */
    String[] resolveCurrent(String meta, Pattern pattern) throws IOException {
        StringBuilder lists = new StringBuilder(meta).append('|').append(pattern.pattern());
        Path dir = Path.of("/var/lib/apt/lists");
        if (Files.isDirectory(dir)) {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.sorted().toList()) {
                    lists.append('|').append(p.getFileName()).append(':').append(Files.size(p)).append(':')
                            .append(Files.getLastModifiedTime(p).toMillis());
                }
            }
        }
        Path memo = cache.file("apt", LabCache.hash(List.of(lists.toString())), out -> {
            String pkg = resolveDependency(meta, pattern);
            Files.writeString(out, pkg + " " + candidateVersion(pkg));
        });
        String[] pv = Files.readString(memo).strip().split(" ");
        if (pv.length != 2) {
            Files.deleteIfExists(memo);
            throw new IOException("corrupt apt memo " + memo + " (deleted; run again)");
        }
        return pv;
    }

    /** The candidate version apt would fetch for {@code pkg}. */
    String candidateVersion(String pkg) throws IOException {
        HostTools.Output o = HostTools.run(null, 60, List.of("apt-cache", "policy", pkg));
        Matcher m = Pattern.compile("^\\s*Candidate:\\s*(\\S+)\\s*$", Pattern.MULTILINE).matcher(o.stdout());
        if (!m.find() || m.group(1).equals("(none)")) {
            throw new UserError("lab: the Debian package '" + pkg + "' is not available from apt (apt-cache policy "
                    + pkg + " shows no candidate): run 'apt-get update' with a reachable Debian mirror");
        }
        return m.group(1);
    }

    /** The unpacked tree of {@code pkg} at {@code version}, downloaded and unpacked on first use. */
    Path unpacked(String pkg, String version) throws IOException {
        return cache.directory("debs", safe(pkg + "_" + version), dir -> {
            Path dl = Files.createDirectory(dir.resolve("download"));
            HostTools.require("apt-get", "apt");
            HostTools.require("dpkg-deb", "dpkg");
            System.err.println("lab: downloading " + pkg + " " + version + " (apt-get download)");
            HostTools.check(dl, APT_TIMEOUT_S, "downloading the Debian package " + pkg + " " + version,
                    List.of("apt-get", "-q", "-o", "Acquire::Retries=0", "-o", "Acquire::http::Timeout=30",
                            "download", pkg + "=" + version));
            Path deb;
            try (Stream<Path> s = Files.list(dl)) {
                deb = s.filter(p -> p.toString().endsWith(".deb")).findFirst()
                        .orElseThrow(() -> new UserError("lab: apt-get download " + pkg + " produced no .deb file"));
            }
            HostTools.check(null, 300, "unpacking " + deb.getFileName(), List.of("dpkg-deb", "-x", deb.toString(), dir.resolve("root").toString()));
            LabCache.deleteTree(dl);
        }).resolve("root");
    }

    static String safe(String s) {
        return s.replaceAll("[^A-Za-z0-9._+-]", "_");
    }
}
