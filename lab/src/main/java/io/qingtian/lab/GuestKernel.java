package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The stock Debian cloud kernel ({@code linux-image-*-cloud-amd64}) that the lab boots as L1
 * and that tests boot as their L2 guest.
 *
 * <p>{@link #stock()} resolves the current package with {@code apt-cache depends
 * linux-image-cloud-amd64}, downloads and unpacks it once into the cache
 * ({@code $QT_CACHE/debs/PACKAGE_VERSION}), and generates {@code modules.dep} with
 * {@code depmod -b} (the package ships none). Later calls use the cache (no network; apt-cache
 * is asked again only after the package lists change).
 *
 * @param version     the kernel release, e.g. {@code 6.1.0-56-cloud-amd64}
 * @param packageName the Debian package, e.g. {@code linux-image-6.1.0-56-cloud-amd64}
 * @param packageVersion the Debian package version, e.g. {@code 6.1.192-2}
 * @param bzImage     the kernel image ({@code boot/vmlinuz-VERSION}, a bzImage)
 * @param modulesDir  {@code lib/modules/VERSION} (with {@code kernel/}, {@code modules.dep})
 */
public record GuestKernel(String version, String packageName, String packageVersion, Path bzImage, Path modulesDir) {
    private static final String META = "linux-image-cloud-amd64";
    private static final Pattern IMAGE = Pattern.compile("linux-image-[0-9].*-cloud-amd64(-unsigned)?");

    /** The stock kernel from the default cache ({@code $QT_CACHE} or {@code ~/.cache/qingtian}). */
    public static GuestKernel stock() {
        return stock(LabCache.defaultCache());
    }

    /** The stock kernel from {@code cache}, fetched on first use. Fails with a {@link UserError} naming what is missing. */
    public static GuestKernel stock(LabCache cache) {
        try {
            DebianPackages apt = new DebianPackages(cache);
            String pkg;
            String pkgVersion;
            try {
                String[] pv = apt.resolveCurrent(META, IMAGE);
                pkg = pv[0];
                pkgVersion = pv[1];
            } catch (UserError e) {
                // No package lists (or no mirror): a kernel fetched earlier is still good.
                Path cached = newestCached(cache);
                if (cached == null) {
                    throw e;
                }
                System.err.println("lab: " + e.getMessage() + "; using the cached " + cached.getParent().getFileName());
                return fromRoot(cached, cached.getParent().getFileName().toString(), "cached");
            }
            Path root = apt.unpacked(pkg, pkgVersion);
            return fromRoot(root, pkg, pkgVersion);
        } catch (IOException e) {
            throw new UncheckedIOException("lab: preparing the guest kernel failed", e);
        }
    }

    private static Path newestCached(LabCache cache) throws IOException {
        Path debs = cache.root().resolve("debs");
        if (!Files.isDirectory(debs)) {
            return null;
        }
        try (Stream<Path> s = Files.list(debs)) {
            return s.filter(p -> IMAGE.matcher(p.getFileName().toString().split("_")[0]).matches())
                    .map(p -> p.resolve("root"))
                    .filter(Files::isDirectory)
                    .max(Comparator.comparing(Path::toString))
                    .orElse(null);
        }
    }

    static GuestKernel fromRoot(Path root, String pkg, String pkgVersion) throws IOException {
        Path boot = root.resolve("boot");
        Path image;
        try (Stream<Path> s = Files.isDirectory(boot) ? Files.list(boot) : Stream.empty()) {
            image = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                    .orElseThrow(() -> new UserError("lab: the kernel package " + pkg + " has no boot/vmlinuz-* (in " + root + ")"));
        }
        String version = image.getFileName().toString().substring("vmlinuz-".length());
        Path modules = root.resolve("lib/modules").resolve(version);
        if (!Files.isDirectory(modules.resolve("kernel"))) {
            throw new UserError("lab: the kernel package " + pkg + " has no modules directory lib/modules/" + version + "/kernel");
        }
        if (!Files.isRegularFile(modules.resolve("modules.dep"))) {
            HostTools.require("depmod", "kmod");
            HostTools.check(null, 300, "depmod for " + version, List.of("depmod", "-b", root.toString(), version));
        }
        return new GuestKernel(version, pkg, pkgVersion, image, modules);
    }

    /** The kernel's build configuration ({@code boot/config-VERSION}). */
    public Path config() {
        return bzImage.resolveSibling("config-" + version);
    }

    /** The module index of this kernel, for picking modules and their dependencies. */
    public KernelModules modules() {
        return KernelModules.index(modulesDir);
    }
}
