package io.qingtian.card.instance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * An AOT cache (JEP 483, trained in one step with JEP 514's {@code -XX:AOTCacheOutput}) for the
 * hypervisor JVMs the card starts: classes loaded and linked ahead of time, so every launch and
 * restore spends less time in JVM start-up (measured on the dev host, unconfined, 5 alternating
 * runs at load ~7: JVM start to command 450 → 365 ms, VM build 105 → 75 ms; one earlier pair at
 * higher load 1.05 → 0.55 s; bench/control/results-2026-11-26-lifecycle.txt).
 *
 * <p>A cache is valid only for the same JDK and the same class path (jar paths, sizes and
 * modification times), so its file name is a hash of exactly those; it is trained once per build
 * and shared by every card on the host: {@code /var/cache/qingtian/hypervisor-aot/KEY.aot}
 * (0644, readable by the instances' uids) as root, else {@code ~/.cache/qingtian/...}. Training
 * runs in the background when the card starts: an unconfined {@code hypervisor run --api-sock}
 * that the card configures over its socket exactly as a launch does (a tiny halting guest),
 * paused and resumed once, ended by its own {@code --timeout} (8 s), when the JVM writes the cache.
 * Launches before the cache exists, or where it cannot be made (no usable /dev/kvm), simply run
 * without it; a cache the JVM rejects is ignored silently ({@code -Xlog:aot=off,cds=off}).
 */
final class HypervisorAotCache {
    private static final Logger LOG = Logger.getLogger(HypervisorAotCache.class.getName());

    private HypervisorAotCache() {}

    /** Where this launcher's cache lives (it may not exist yet), or null if the prefix is not a java command line. */
    static Path location(HypervisorLauncher launcher) {
        List<String> p = launcher.prefix();
        int cp = p.indexOf("-cp");
        if (p.isEmpty() || !p.get(0).endsWith("/java") || cp < 0 || cp + 1 >= p.size()) {
            return null;
        }
        for (String entry : p.get(cp + 1).split(":")) {
            if (!entry.endsWith(".jar") && !entry.endsWith("/*")) {
                return null; // classes in directories (a development tree): the JVM archives classes from jars only
            }
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir = root ? Path.of("/var/cache/qingtian/hypervisor-aot")
                : Path.of(System.getProperty("user.home"), ".cache", "qingtian", "hypervisor-aot");
        return dir.resolve(key(p, p.get(cp + 1)) + ".aot");
    }

    /** Hash of the JDK, the JVM flags and every class path entry's path, size and modification time. */
    private static String key(List<String> prefix, String classPath) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(String.join("\0", prefix).getBytes(StandardCharsets.UTF_8));
            d.update(System.getProperty("java.vm.version", "").getBytes(StandardCharsets.UTF_8));
            for (String entry : classPath.split(":")) {
                List<Path> files = new ArrayList<>();
                if (entry.endsWith("/*")) {
                    try (Stream<Path> s = Files.list(Path.of(entry.substring(0, entry.length() - 2)))) {
                        s.filter(f -> f.toString().endsWith(".jar")).sorted().forEach(files::add);
                    } catch (IOException e) {
                        // missing directory: part of the key as such
                    }
                } else {
                    files.add(Path.of(entry));
                }
                for (Path f : files) {
                    String stamp;
                    try {
                        stamp = f + "|" + Files.size(f) + "|" + Files.getLastModifiedTime(f).toMillis();
                    } catch (IOException e) {
                        stamp = f + "|missing";
                    }
                    d.update(stamp.getBytes(StandardCharsets.UTF_8));
                }
            }
            return HexFormat.of().formatHex(d.digest(), 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The launcher with the cache {@code c} if it exists (and is not the empty "cannot be made" marker). */
    static HypervisorLauncher apply(HypervisorLauncher launcher, Path c) {
        try {
            if (c != null && Files.isRegularFile(c) && Files.size(c) > 0) {
                return launcher.withJvmOptions(List.of("-XX:AOTCache=" + c, "-Xlog:aot=off", "-Xlog:cds=off"));
            }
        } catch (IOException e) {
            // unreadable: run without
        }
        return launcher;
    }

    /**
     * Trains the cache unless it (or its empty "cannot be made" marker) exists; hands the training
     * process to {@code started} so the card can end it when it closes. Runs on the caller's thread.
     */
    static void train(HypervisorLauncher launcher, java.util.function.Consumer<Process> started) {
        Path cache = location(launcher);
        if (cache == null || Files.isRegularFile(cache)
                || !Files.isReadable(Path.of("/dev/kvm")) || !Files.isWritable(Path.of("/dev/kvm"))) {
            return;
        }
        Path tmp = null;
        Process p = null;
        try {
            Files.createDirectories(cache.getParent());
            tmp = Files.createTempDirectory(cache.getParent(), "train-");
            Path kernel = Files.write(tmp.resolve("kernel"), haltingGuest());
            Path sock = tmp.resolve("api.sock");
            Path out = tmp.resolve("cache.aot");
            List<String> cmd = new ArrayList<>(launcher.withJvmOptions(List.of("-XX:AOTCacheOutput=" + out,
                    "-Xlog:aot=off", "-Xlog:cds=off")).prefix());
            cmd.addAll(List.of("hypervisor", "run", "--api-sock", sock.toString(), "--timeout", "8"));
            p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            started.accept(p);
            HypervisorApi api = new HypervisorApi(sock);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (!api.listening() && p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Duration t = Duration.ofSeconds(30);
            new HypervisorSetup.ColdBoot(kernel, null, null, 1, 64, List.of(), List.of()).apply(api, t);
            api.patch("/vm", Map.of("state", "Paused"), t);
            api.get("/", t);
            api.patch("/vm", Map.of("state", "Resumed"), t);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() >= 128) {
                return; // hung, or killed (the card closed): try again at the next start
            }
            if (!Files.isRegularFile(out) || Files.size(out) == 0) {
                // e.g. a class path with directories (a development build): remember, do not retrain at every start
                Files.write(out, new byte[0]);
            }
            Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(out, cache, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            LOG.info("hypervisor AOT cache " + (Files.size(cache) > 0 ? "ready: " : "cannot be made here: ") + cache);
        } catch (IOException e) {
            LOG.info("no hypervisor AOT cache (" + e.getMessage() + "): hypervisors start without one");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
            }
            if (tmp != null) {
                try (Stream<Path> s = Files.walk(tmp)) {
                    for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(f);
                    }
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    /** A bzImage whose 64-bit entry executes cli; hlt forever: the VM build and vCPU start, nothing more. */
    static byte[] haltingGuest() {
        byte[] code = {(byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFC};
        int offset = 5 * 512;
        ByteBuffer b = ByteBuffer.allocate(offset + 0x200 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 4).putShort(0x1fe, (short) 0xaa55).put(0x200, (byte) 0xeb).put(0x201, (byte) 0x6a);
        b.putInt(0x202, 0x53726448).putShort(0x206, (short) 0x020f).put(0x211, (byte) 1); // "HdrS" 2.15, LOADED_HIGH
        b.putInt(0x22c, 0x7fff_ffff).putInt(0x230, 0x20_0000).put(0x234, (byte) 1).putShort(0x236, (short) 3); // 64-bit entry
        b.putInt(0x238, 2047).putLong(0x258, 0x100_0000L).putInt(0x260, 0x10000);
        b.put(offset + 0x200, code);
        return b.array();
    }
}
