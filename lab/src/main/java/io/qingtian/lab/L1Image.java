package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Everything L1 boots from, built once and cached by content keys:
 * <ul>
 * <li>the stock cloud kernel ({@link GuestKernel});</li>
 * <li>{@code l1/base-KEY.cpio}: busybox, the kvm and virtio-blk modules in dependency order, and
 *     the lab's {@code /init} ({@link L1Init});</li>
 * <li>{@code l1/disk-KEY.ext4}: a read-only ext4 image (made by {@code mke2fs -d}, no root or loop
 *     mount needed) mounted at {@code /opt/lab} with the jlink JDK and its glibc, the kernel's full
 *     module tree with modules.dep (so {@code modprobe} works in L1), and the L2 inputs
 *     {@code guest/vmlinuz} and {@code guest/initramfs.cpio};</li>
 * <li>{@code l1/qt-KEY.cpio}: the project's jars (cli/target/qt) at {@code /opt/qt} and the
 *     {@code qt} launcher script; it changes with every build, so it is small and separate.</li>
 * </ul>
 * Big, rarely changing content is on the disk because L1 then reads only what a command uses,
 * instead of unpacking ~150 MB into RAM at every boot.
 */
final class L1Image {
    /** Modules L1 loads at boot: the real KVM (SVM) and virtio-blk for the lab disk. */
    static final List<String> BOOT_MODULES = List.of("kvm_amd", "virtio_pci", "virtio_blk");

    record Parts(GuestKernel kernel, Path baseCpio, Path disk, Path qtCpio) {}

    private L1Image() {}

    static Parts prepare(LabCache cache, Path dist, Path javaHome) throws IOException {
        return prepare(cache, GuestKernel.stock(cache), dist, javaHome);
    }

    static Parts prepare(LabCache cache, GuestKernel kernel, Path dist, Path javaHome) throws IOException {
        KernelModules km = kernel.modules();
        for (String m : List.of("irqbypass", "kvm", "kvm_amd")) {
            if (km.find(m).isEmpty()) {
                throw new UserError("lab: the kernel package " + kernel.packageName() + " " + kernel.packageVersion()
                        + " has no kvm modules (missing " + m + ".ko under " + kernel.modulesDir() + "/kernel)");
            }
        }
        List<Path> bootModules = km.loadOrder(BOOT_MODULES);
        Busybox busybox = Busybox.get(cache);
        String init = L1Init.script(kernel.version());

        String baseKey = LabCache.hash(List.of(kernel.packageName(), kernel.packageVersion(), busybox.version(), init,
                bootModules.toString()));
        Path base = cache.file("l1", "base-" + baseKey + ".cpio", out -> {
            GuestInitramfs b = GuestInitramfs.withInit(init).busybox(busybox);
            StringBuilder order = new StringBuilder();
            for (Path ko : bootModules) {
                b.file("boot-modules/" + ko.getFileName(), 0644, ko);
                order.append("/boot-modules/").append(ko.getFileName()).append('\n');
            }
            b.file("etc/qt-boot-modules", 0644, order.toString().getBytes());
            b.writeTo(out);
            // /lib64 and the glibc directory point into the disk, so java finds its loader.
            try (OutputStream os = Files.newOutputStream(out, java.nio.file.StandardOpenOption.APPEND);
                 CpioWriter links = new CpioWriter(os)) {
                links.directory("opt/lab", 0755).directory("opt/qt", 0755).directory("lib", 0755);
                links.symlink("lib64", "/opt/lab/glibc/lib64");
                links.symlink("lib/x86_64-linux-gnu", "/opt/lab/glibc/lib/x86_64-linux-gnu");
                links.symlink("usr/lib/x86_64-linux-gnu", "/opt/lab/glibc/usr/lib/x86_64-linux-gnu");
                links.symlink("lib/modules", "/opt/lab/modules");
            }
        });

        String l2Key = LabCache.hash(List.of(busybox.version(), GuestInitramfs.DEFAULT_INIT));
        Path l2 = cache.file("l2", "initramfs-" + l2Key + ".cpio",
                out -> GuestInitramfs.withInit(GuestInitramfs.DEFAULT_INIT).busybox(busybox).writeTo(out));

        JavaRuntime.Image jdk = JavaRuntime.build(cache, javaHome, dist);
        String diskKey = LabCache.hash(List.of(jdk.key(), kernel.packageName(), kernel.packageVersion(), l2Key));
        Path disk = cache.file("l1", "disk-" + diskKey + ".ext4", out -> buildDisk(out, jdk, kernel, l2));

        List<Path> jars = JavaRuntime.jars(dist);
        List<String> classPath = jars.stream().map(j -> "/opt/qt/" + dist.relativize(j)).toList();
        Path aot = AotCache.build(cache, jdk, dist, jars, classPath);
        List<Object> qtKey = new ArrayList<>(jars);
        qtKey.add(aot);
        Path qt = cache.file("l1", "qt-" + LabCache.hash(qtKey) + ".cpio", out -> {
            try (CpioWriter cpio = new CpioWriter(new java.io.BufferedOutputStream(Files.newOutputStream(out)))) {
                for (int i = 0; i < jars.size(); i++) {
                    cpio.file(classPath.get(i), 0644, jars.get(i));
                }
                if (Files.size(aot) > 0) {
                    cpio.file("opt/qt/qt.aot", 0644, aot);
                }
                cpio.file("opt/qt/bin/qt", 0755, L1Init.qtLauncher(classPath).getBytes());
            }
        });
        cache.prune("l1", "qt-", 4);
        cache.prune("l1", "aot-", 4);
        cache.prune("l1", "disk-", 3);
        cache.prune("l1", "base-", 4);
        cache.prune("jdk", "", 3);
        cache.prune("jdeps", "", 16);
        for (String area : List.of("l1", "l2", "jdk", "debs", "apt", "jdeps")) {
            cache.sweepStale(area);
        }
        return new Parts(kernel, base, disk, qt);
    }

    private static void buildDisk(Path out, JavaRuntime.Image jdk, GuestKernel kernel, Path l2) throws IOException {
        HostTools.require("mke2fs", "e2fsprogs");
        Path stage = Files.createTempDirectory(out.getParent(), "stage.tmp");
        try {
            link(jdk.dir().resolve("jdk"), stage.resolve("jdk"));
            link(jdk.dir().resolve("glibc"), stage.resolve("glibc"));
            link(kernel.modulesDir(), stage.resolve("modules").resolve(kernel.version()));
            Files.createDirectories(stage.resolve("guest"));
            Files.copy(kernel.bzImage(), stage.resolve("guest/vmlinuz"));
            Files.copy(l2, stage.resolve("guest/initramfs.cpio"));
            long bytes;
            try (Stream<Path> s = Files.walk(stage)) {
                bytes = s.filter(Files::isRegularFile).mapToLong(p -> {
                    try {
                        return (Files.size(p) + 4095) / 4096 * 4096;
                    } catch (IOException e) {
                        return 0;
                    }
                }).sum();
            }
            long mib = bytes / (1 << 20) * 12 / 10 + 32;
            System.err.println("lab: building the L1 disk (" + mib + " MiB ext4)");
            Files.deleteIfExists(out);
            HostTools.check(null, 600, "mke2fs", List.of("mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal",
                    "-L", "qtlab", "-E", "root_owner=0:0", "-d", stage.toString(), out.toString(), mib + "M"));
        } finally {
            LabCache.deleteTree(stage);
        }
    }

    /** Mirrors {@code from} at {@code to} with hard links (same file system), else copies. */
    private static void link(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Path t = to.resolve(from.relativize(file).toString());
                if (attrs.isSymbolicLink()) {
                    Files.createSymbolicLink(t, Files.readSymbolicLink(file));
                } else {
                    try {
                        Files.createLink(t, file);
                    } catch (IOException | UnsupportedOperationException e) {
                        Files.copy(file, t, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                    }
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
