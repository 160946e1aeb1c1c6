package io.qingtian.e2e.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.vhostuser.blk.VhostUserBlkServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A card that dies (SIGKILL) while the guest has writes in flight, under QEMU as the
 * front-end (vhost-user-blk-pci, chardev reconnect=1), with vhost-user inflight I/O
 * tracking: the back-end that takes the socket over resubmits the requests the dead one had
 * taken, and the guest's write completes with the right data and no error — it saw a pause.
 *
 * <p>The guest writes 512 KiB with O_DIRECT split into 64 KiB requests (max_sectors_kb), so
 * several chains are in the ring at once; the dying back-end blocks the first of them
 * forever and completes the others (out of order, on helper threads). Without tracking the
 * same scenario fails: QEMU can only restart the ring at the guest's used index, which
 * re-executes a completed request and loses the stalled one (the second test shows it).
 */
@Tag("qemu")
@Timeout(300)
class VhostUserBlkInflightTest {
    private static final long DISK = 16L << 20;
    private static final long STALL_OFFSET = 1L << 20;

    @TempDir
    Path dir;

    private static final String INIT = io.qingtian.e2e.GuestInit.PRELUDE + """
            waitblk vda
            echo 64 > /sys/block/vda/queue/max_sectors_kb
            dd if=/dev/urandom of=/tmp/p bs=65536 count=8 2>/dev/null
            W=$(md5sum < /tmp/p)
            echo QT-WRITING
            dd if=/tmp/p of=/dev/vda bs=524288 seek=2 count=1 oflag=direct 2>/tmp/dd.err
            echo "QT-WRITTEN rc=$?"
            R=$(dd if=/dev/vda bs=524288 skip=2 count=1 iflag=direct 2>/dev/null | md5sum)
            [ "${R%% *}" = "${W%% *}" ] && echo "QT-DATA ok" || echo "QT-DATA BAD"
            E=$(dmesg | grep -ci -e "error" -e "not a head" -e "broken")
            dmesg | grep -i -e "error" -e "not a head" -e "broken" | head -5
            echo "QT-DMESG errors=$E"
            poweroff -f
            """;

    record Outcome(String console, List<String> deadOutput, VhostUserBlkServer.Stats stats,
                   io.qingtian.vhostuser.backend.VhostUserBackend.InflightStats inflight) {}

    @Test
    void guestWriteInFlightAtTheCrashCompletes() throws Exception {
        Outcome o = run(true, 200);
        assertThat(o.deadOutput()).as("the dead back-end had a write stalled").anyMatch(l -> l.startsWith("QT-STALLED"));
        assertThat(o.deadOutput().stream().filter(l -> l.startsWith("QT-WROTE")).count())
                .as("and completed later writes before it (out of order)").isPositive();
        assertThat(o.console()).contains("QT-WRITTEN rc=0", "QT-DATA ok", "QT-DMESG errors=0");
        assertThat(o.inflight().regionsSet()).as("QEMU handed its inflight region to the new back-end").isPositive();
        assertThat(o.inflight().resubmitted()).as("the new back-end resubmitted what was in flight").isPositive();
        assertThat(o.stats().errors()).isZero();
    }

    @Test
    void withoutInflightTrackingTheSameCrashLosesTheWrite() throws Exception {
        Outcome o = run(false, 30);
        assertThat(o.deadOutput()).anyMatch(l -> l.startsWith("QT-STALLED"));
        assertThat(o.deadOutput().stream().filter(l -> l.startsWith("QT-WROTE")).count())
                .as("completions out of order, as in the test with tracking").isPositive();
        assertThat(o.inflight().regionsSet()).isZero();
        System.out.println("without inflight tracking the guest shows:\n" + o.console());
        assertThat(o.console()).as("the guest's write did not complete correctly").doesNotContain("QT-DMESG errors=0")
                .containsAnyOf("QT-DATA BAD", "not a head", "[guest still running");
    }

    private Outcome run(boolean inflight, int guestSeconds) throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = dir.resolve("initrd.cpio");
        GuestInitramfs.withInit(INIT).modules(kernel, "virtio_pci", "virtio_blk").writeTo(initrd);
        Path sock = dir.resolve("blk.sock");
        Path disk = dir.resolve("disk.img");
        Path console = dir.resolve("console.log");
        List<String> deadOutput = new CopyOnWriteArrayList<>();
        Process dying = startDyingBackend(sock, disk, inflight, deadOutput);
        Process qemu = null;
        VhostUserBlkServer second = null;
        try (VhostUserFileDisk file = new VhostUserFileDisk(disk, DISK, "qt-inflight")) {
            waitFor(() -> deadOutput.contains("QT-LISTENING"), 60, "the dying back-end to listen", dying);
            qemu = new ProcessBuilder(List.of("qemu-system-x86_64",
                    "-M", "q35,memory-backend=mem", "-accel", "tcg", "-m", "256M",
                    "-object", "memory-backend-memfd,id=mem,size=256M,share=on",
                    "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio", "-no-reboot",
                    "-kernel", kernel.bzImage().toString(), "-initrd", initrd.toString(),
                    "-append", "console=ttyS0 quiet",
                    "-chardev", "socket,id=c0,path=" + sock + ",reconnect=1",
                    "-device", "vhost-user-blk-pci,chardev=c0,num-queues=1"))
                    .redirectErrorStream(true).redirectOutput(console.toFile()).start();
            waitFor(() -> deadOutput.stream().anyMatch(l -> l.startsWith("QT-STALLED")), 180, "a write to stall", qemu);
            // Let the requests behind the stalled one complete (they run on helper threads),
            // so that completion order differs from avail order when the card dies.
            waitFor(() -> deadOutput.stream().filter(l -> l.startsWith("QT-WROTE")).count() >= 7, 10, null, qemu);
            dying.destroyForcibly(); // SIGKILL: no orderly quiesce, the stalled write never completes
            assertThat(dying.waitFor(30, TimeUnit.SECONDS)).isTrue();
            Files.deleteIfExists(sock); // a killed process leaves its socket file behind
            second = VhostUserBlkServer.start(sock, file, 1, false, inflight);
            Process q = qemu;
            // Ends early when the guest's driver has already given up on the ring.
            waitFor(() -> readQuietly(console).contains("is not a head"), guestSeconds, null, qemu);
            qemu.waitFor(1, TimeUnit.SECONDS);
            String out = Files.readString(console);
            return new Outcome(out + (q.isAlive() ? "\n[guest still running after " + guestSeconds + " s]" : ""),
                    List.copyOf(deadOutput), second.stats(), second.inflightStats());
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "\nconsole:\n" + (Files.exists(console) ? Files.readString(console) : "")
                    + "\ndying back-end:\n" + String.join("\n", deadOutput), e);
        } finally {
            if (qemu != null) {
                qemu.destroyForcibly();
                qemu.waitFor(30, TimeUnit.SECONDS);
            }
            dying.destroyForcibly();
            if (second != null) {
                second.close();
            }
        }
    }

    private static String readQuietly(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static Process startDyingBackend(Path sock, Path disk, boolean inflight, List<String> output) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), StallingBlkServerMain.class.getName(),
                sock.toString(), disk.toString(), Long.toString(DISK), Long.toString(STALL_OFFSET), Boolean.toString(inflight)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    output.add(l);
                }
            } catch (java.io.IOException e) {
                // the process died: that is the point
            }
        });
        return p;
    }

    private static void waitFor(java.util.function.BooleanSupplier done, int seconds, String what, Process mustLive)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean() && mustLive.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        if (what != null) {
            assertThat(done.getAsBoolean()).as("waited %d s for %s", seconds, what).isTrue();
        }
    }
}
