package io.qingtian.e2e.card;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A stock Debian kernel + busybox initramfs guest under QEMU TCG (q35), with its RAM in a shared
 * memfd so vhost-user back-ends (the card) can map it. Console output goes to a file the test
 * polls for markers.
 */
final class TcgGuest implements AutoCloseable {
    final Process qemu;
    final Path console;

    private TcgGuest(Process qemu, Path console) {
        this.qemu = qemu;
        this.console = console;
    }

    /** Initramfs with {@code init} and the given kernel modules (plus their dependencies). */
    static Path initramfs(Path dir, String name, String init, GuestKernel kernel, List<String> modules,
            List<Path[]> extraFiles) throws IOException {
        GuestInitramfs fs = GuestInitramfs.withInit(init).modules(kernel, modules.toArray(String[]::new));
        for (Path[] f : extraFiles) {
            fs.file(f[0].toString(), Files.isExecutable(f[1]) ? 0755 : 0644, f[1]);
        }
        Path out = dir.resolve(name + ".cpio");
        fs.writeTo(out);
        return out;
    }

    /**
     * @param disks QEMU arguments for the disks (e.g. the vhost-user-blk chardev/device pairs)
     */
    static TcgGuest boot(Path dir, String name, GuestKernel kernel, Path initrd, List<String> disks) throws IOException {
        Path console = dir.resolve(name + ".console");
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-M", "q35,memory-backend=mem",
                "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-m", "256M",
                "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "1", "-nodefaults", "-no-user-config",
                "-display", "none", "-serial", "file:" + console, "-kernel", kernel.bzImage().toString(),
                "-initrd", initrd.toString(), "-append", "console=ttyS0 quiet panic=-1", "-no-reboot"));
        cmd.addAll(disks);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".qemu.log").toFile()).start();
        return new TcgGuest(p, console);
    }

    String console() throws IOException {
        return Files.exists(console) ? Files.readString(console, StandardCharsets.ISO_8859_1) : "";
    }

    /** Waits until the console shows {@code marker}; fails with the console if QEMU exits or time runs out. */
    String await(String marker, int seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            String c = console();
            if (c.contains(marker)) {
                return c;
            }
            if (!qemu.isAlive() && !console().contains(marker)) {
                throw new AssertionError("guest stopped before '" + marker + "':\n" + c);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no '" + marker + "' after " + seconds + " s:\n" + c);
            }
            Thread.sleep(100);
        }
    }

    /** Waits for the guest to power off (the init script ends with poweroff -f). */
    void awaitExit(int seconds) throws InterruptedException, IOException {
        if (!qemu.waitFor(seconds, TimeUnit.SECONDS)) {
            throw new AssertionError("guest did not power off:\n" + console());
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (qemu.isAlive()) {
            qemu.destroyForcibly();
            qemu.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
