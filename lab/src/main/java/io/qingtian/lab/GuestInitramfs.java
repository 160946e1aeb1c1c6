package io.qingtian.lab;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a busybox initramfs (an uncompressed newc cpio archive) for a Linux guest with a
 * given {@code /init} script: busybox-static at {@code /bin/busybox}, a symlink per applet
 * ({@code /bin/sh}, {@code /sbin/poweroff}, ...), {@code /dev/console}, the empty mount points
 * {@code /proc /sys /dev /tmp /mnt}, plus any files and kernel modules you add.
 *
 * <pre>{@code
 * Path initrd = tmp.resolve("l2.cpio");
 * GuestInitramfs.withInit("""
 *         #!/bin/sh
 *         mount -t proc proc /proc
 *         echo hello from L2
 *         poweroff -f
 *         """)
 *     .file("etc/motd", 0644, "hi\n".getBytes())
 *     .modules(GuestKernel.stock(), "virtio_blk")   // + deps; loaded by LOAD_MODULES
 *     .writeTo(initrd);
 * }</pre>
 *
 * <p>Modules added with {@link #modules} go to {@code /lib/modules/NAME.ko} with their load
 * order in {@code /etc/qt-modules}; put {@link #LOAD_MODULES} in your init to load them.
 */
public final class GuestInitramfs {
    /** Shell lines that insmod the modules added with {@link #modules}, in dependency order. */
    public static final String LOAD_MODULES = "for m in $(cat /etc/qt-modules 2>/dev/null); do insmod \"$m\"; done\n";

    /** The marker {@link #DEFAULT_INIT} prints on the console when it runs. */
    public static final String DEFAULT_MARKER = "qingtian-l2: init reached";

    /** A minimal init: mounts proc/sys/dev, prints {@link #DEFAULT_MARKER}, powers off. */
    public static final String DEFAULT_INIT = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            echo "%s"
            poweroff -f
            """.formatted(DEFAULT_MARKER);

    private final String init;
    private final Map<String, Entry> files = new LinkedHashMap<>();
    private final List<String> moduleOrder = new ArrayList<>();
    private Busybox busybox;

    private record Entry(int mode, byte[] bytes, Path host) {}

    private GuestInitramfs(String init) {
        this.init = init;
    }

    /** An initramfs whose {@code /init} is {@code script} (include a {@code #!/bin/sh} line). */
    public static GuestInitramfs withInit(String script) {
        return new GuestInitramfs(script);
    }

    /** Uses this busybox instead of {@link Busybox#get} from the default cache. */
    public GuestInitramfs busybox(Busybox b) {
        this.busybox = b;
        return this;
    }

    /** Adds a file with the given content and permission bits at {@code guestPath}. */
    public GuestInitramfs file(String guestPath, int mode, byte[] content) {
        files.put(CpioWriter.normalize(guestPath), new Entry(mode, content.clone(), null));
        return this;
    }

    /** Adds the host file {@code hostFile} (read when written) at {@code guestPath}. */
    public GuestInitramfs file(String guestPath, int mode, Path hostFile) {
        files.put(CpioWriter.normalize(guestPath), new Entry(mode, null, hostFile));
        return this;
    }

    /** Adds kernel modules {@code names} of {@code kernel} and their dependencies (see {@link #LOAD_MODULES}). */
    public GuestInitramfs modules(GuestKernel kernel, String... names) {
        KernelModules km = kernel.modules();
        for (Path ko : km.loadOrder(List.of(names))) {
            String guest = "lib/modules/" + ko.getFileName();
            if (!files.containsKey(guest)) {
                files.put(guest, new Entry(0644, null, ko));
                moduleOrder.add("/" + guest);
            }
        }
        return this;
    }

    /** Writes the archive to {@code out} (replacing it). */
    public void writeTo(Path out) throws IOException {
        try (OutputStream os = Files.newOutputStream(out)) {
            writeTo(os);
        }
    }

    /** The archive as bytes. */
    public byte[] toBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            writeTo(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private void writeTo(OutputStream os) throws IOException {
        Busybox bb = busybox != null ? busybox : Busybox.get(LabCache.defaultCache());
        try (CpioWriter cpio = new CpioWriter(new java.io.BufferedOutputStream(os, 1 << 16))) {
            for (String d : List.of("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "mnt", "root", "run")) {
                cpio.directory(d, d.equals("tmp") ? 01777 : 0755);
            }
            cpio.charDevice("dev/console", 0600, 5, 1);
            cpio.charDevice("dev/null", 0666, 1, 3);
            cpio.file("bin/busybox", 0755, bb.binary());
            for (String applet : bb.applets()) {
                if (!applet.equals("bin/busybox")) {
                    cpio.symlink(applet, "/bin/busybox");
                }
            }
            cpio.file("init", 0755, init.getBytes(StandardCharsets.UTF_8));
            if (!moduleOrder.isEmpty()) {
                cpio.file("etc/qt-modules", 0644, (String.join("\n", moduleOrder) + "\n").getBytes(StandardCharsets.UTF_8));
            }
            for (Map.Entry<String, Entry> e : files.entrySet()) {
                Entry v = e.getValue();
                if (v.host() != null) {
                    cpio.file(e.getKey(), v.mode(), v.host());
                } else {
                    cpio.file(e.getKey(), v.mode(), v.bytes());
                }
            }
        }
    }
}
