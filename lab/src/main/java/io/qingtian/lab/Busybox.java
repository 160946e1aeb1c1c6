package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;

/**
 * The statically linked busybox from the Debian package {@code busybox-static}: the installed
 * {@code /bin/busybox} when that package is installed, otherwise the package is fetched with
 * {@code apt-get download} into the cache.
 *
 * @param binary  the static busybox executable
 * @param applets its applets as paths relative to / (e.g. {@code bin/sh}, {@code sbin/insmod})
 * @param version the Debian package version (part of cache keys)
 */
public record Busybox(Path binary, List<String> applets, String version) {
    private static final String PACKAGE = "busybox-static";
    private static final Map<Path, Busybox> LOADED = new ConcurrentHashMap<>();

    /** The busybox-static of this host or the cache; a {@link UserError} if neither can be had. */
    public static Busybox get(LabCache cache) {
        try {
            HostTools.Output q = HostTools.run(null, 30, List.of("dpkg-query", "-W", "-f=${Status}|${Version}", PACKAGE));
            String[] status = q.stdout().split("\\|");
            if (q.exitCode() == 0 && status.length == 2 && status[0].contains("installed") && !status[0].contains("not-installed")
                    && Files.isExecutable(Path.of("/bin/busybox"))) {
                return load(Path.of("/bin/busybox"), status[1]);
            }
            DebianPackages apt = new DebianPackages(cache);
            String version = apt.candidateVersion(PACKAGE);
            Path root = apt.unpacked(PACKAGE, version);
            for (String p : List.of("bin/busybox", "usr/bin/busybox")) {
                if (Files.isExecutable(root.resolve(p))) {
                    return load(root.resolve(p), version);
                }
            }
            throw new UserError("lab: the package " + PACKAGE + " " + version + " has no bin/busybox");
        } catch (IOException e) {
            throw new UserError("lab: cannot get " + PACKAGE + ": " + e.getMessage(), e);
        }
    }

    private static Busybox load(Path binary, String version) throws IOException {
        Busybox cached = LOADED.get(binary);
        if (cached != null) {
            return cached;
        }
        String list = HostTools.check(null, 30, "listing busybox applets", List.of(binary.toString(), "--list-full"));
        Busybox b = new Busybox(binary, list.lines().map(String::strip).filter(s -> !s.isEmpty()).toList(), version);
        LOADED.put(binary, b);
        return b;
    }
}
