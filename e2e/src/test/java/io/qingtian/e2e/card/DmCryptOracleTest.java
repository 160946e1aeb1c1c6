package io.qingtian.e2e.card;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.lab.GuestKernel;
import io.qingtian.virtio.blk.BlockBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real dm-crypt as the oracle for the card's encryption: the volume file written through the
 * card is opened with {@code cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512}
 * inside a QEMU TCG guest (stock Debian kernel: dm-mod, dm-crypt, xts, aesni-intel) and must read
 * as the same plaintext; what the guest writes through dm-crypt must read back through the card.
 * cryptsetup and its libraries are the host's (package cryptsetup-bin), copied into the initramfs.
 */
@Tag("qemu")
class DmCryptOracleTest {
    static final Path CRYPTSETUP = Path.of("/usr/sbin/cryptsetup");

    @TempDir
    Path tmp;

    static final String INIT = io.qingtian.e2e.GuestInit.PRELUDE + """
            waitblk vda
            mkdir -p /run/cryptsetup /run/lock
            export DM_DISABLE_UDEV=1
            /usr/sbin/cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --key-file /key \\
                --sector-size 512 --offset 0 --skip 0 /dev/vda x 2>&1 || echo CRYPTSETUP-FAILED
            echo "PLAIN $(dd if=/dev/mapper/x bs=64k count=32 2>/dev/null | sha256sum | cut -d' ' -f1)"
            dd if=/probe of=/dev/mapper/x bs=64k seek=64 conv=fsync 2>/dev/null || echo DD-FAILED
            /usr/sbin/cryptsetup close x 2>&1
            sync
            echo ORACLE-DONE
            poweroff -f
            """;

    /** The shared libraries cryptsetup needs, as ldd reports them (absolute paths). */
    static List<Path> libraries(Path binary) throws Exception {
        Process p = new ProcessBuilder("ldd", binary.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor(30, TimeUnit.SECONDS);
        Set<Path> libs = new LinkedHashSet<>();
        Matcher m = Pattern.compile("(/\\S+\\.so[.0-9]*)").matcher(out);
        while (m.find()) {
            libs.add(Path.of(m.group(1)));
        }
        return new ArrayList<>(libs);
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    @Test
    void cryptsetupPlainReadsWhatTheCardWroteAndViceVersa() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CRYPTSETUP), "cryptsetup-bin is not installed");
        byte[] key = new byte[64];
        new Random(21).nextBytes(key);
        Path keyFile = tmp.resolve("key");
        Files.write(keyFile, key);
        byte[] plain = new byte[2 << 20];
        new Random(22).nextBytes(plain);
        Path image = tmp.resolve("plain.raw");
        Files.write(image, plain);
        byte[] probe = new byte[1 << 20];
        new Random(23).nextBytes(probe);
        Path probeFile = tmp.resolve("probe");
        Files.write(probeFile, probe);

        Path state = tmp.resolve("state");
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            card.volumes().create(new VolumeManager.CreateSpec("secret", 8L << 20, true, key, null, null));
            card.volumes().importImage("secret", image);
        }

        GuestKernel kernel = GuestKernel.stock();
        List<Path[]> files = new ArrayList<>();
        files.add(new Path[] {Path.of("usr/sbin/cryptsetup"), CRYPTSETUP});
        for (Path lib : libraries(CRYPTSETUP)) {
            files.add(new Path[] {Path.of("/").relativize(lib), lib});
        }
        files.add(new Path[] {Path.of("key"), keyFile});
        files.add(new Path[] {Path.of("probe"), probeFile});
        Path initrd = TcgGuest.initramfs(tmp, "oracle", INIT, kernel,
                List.of("virtio_pci", "virtio_blk", "dm_mod", "dm_crypt", "xts", "ecb", "aesni_intel"), files);
        Path volume = state.resolve("volumes/secret.img");
        try (TcgGuest guest = TcgGuest.boot(tmp, "oracle", kernel, initrd,
                List.of("-drive", "file=" + volume + ",format=raw,if=none,id=d0,cache=writethrough",
                        "-device", "virtio-blk-pci,drive=d0"))) {
            String console = guest.await("ORACLE-DONE", 240);
            assertThat(console).doesNotContain("CRYPTSETUP-FAILED").doesNotContain("DD-FAILED");
            assertThat(console).contains("PLAIN " + sha256(plain));
            guest.awaitExit(60);
        }

        // The other direction: dm-crypt wrote the probe at 4 MiB; the card must decrypt it.
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser());
                BlockBackend b = card.volumes().openBackend("secret", true);
                Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(probe.length);
            b.read(4L << 20, buf);
            assertThat(buf.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(probe);
            MemorySegment head = arena.allocate(plain.length);
            b.read(0, head);
            assertThat(Arrays.equals(head.toArray(ValueLayout.JAVA_BYTE), plain)).isTrue();
        }
    }
}
