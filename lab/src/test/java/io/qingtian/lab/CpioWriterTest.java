package io.qingtian.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Round trips through the system's cpio (GNU cpio), the reference reader of the newc format. */
class CpioWriterTest {
    @TempDir
    Path tmp;

    @Test
    void systemCpioListsAndExtractsWhatWasWritten() throws Exception {
        Path archive = tmp.resolve("a.cpio");
        try (CpioWriter w = new CpioWriter(Files.newOutputStream(archive))) {
            w.file("/init", 0755, "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.UTF_8));
            w.file("etc/deep/dir/conf", 0640, "x=1\n".getBytes(StandardCharsets.UTF_8));
            w.file("empty", 0644, new byte[0]);
            w.symlink("bin/sh", "/bin/busybox");
            w.directory("tmp", 01777);
        }
        String listing = cpio(tmp, "-t", "-F", archive.toString());
        assertThat(listing.lines()).containsExactlyInAnyOrder(
                "init", "etc", "etc/deep", "etc/deep/dir", "etc/deep/dir/conf", "empty", "bin", "bin/sh", "tmp");

        Path out = Files.createDirectory(tmp.resolve("out"));
        cpio(out, "-i", "-d", "--no-absolute-filenames", "-F", archive.toString());
        assertThat(Files.readString(out.resolve("init"))).isEqualTo("#!/bin/sh\necho hi\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("init")))).isEqualTo("rwxr-xr-x");
        assertThat(Files.readString(out.resolve("etc/deep/dir/conf"))).isEqualTo("x=1\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("etc/deep/dir/conf")))).isEqualTo("rw-r-----");
        assertThat(Files.size(out.resolve("empty"))).isZero();
        assertThat(Files.readSymbolicLink(out.resolve("bin/sh"))).isEqualTo(Path.of("/bin/busybox"));
    }

    @Test
    void streamsHostFilesAndConcatenatedArchivesAreReadInTurn() throws Exception {
        Path src = tmp.resolve("src.bin");
        byte[] data = new byte[100_003];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        Files.write(src, data);
        Path archive = tmp.resolve("b.cpio");
        try (CpioWriter w = new CpioWriter(Files.newOutputStream(archive))) {
            w.file("data/src.bin", 0600, src);
        }
        Path out = Files.createDirectory(tmp.resolve("out"));
        cpio(out, "-i", "-d", "-F", archive.toString());
        assertThat(Files.readAllBytes(out.resolve("data/src.bin"))).isEqualTo(data);
    }

    @Property(tries = 30)
    void everyEntryIsFourByteAlignedAndRoundTrips(@ForAll @Size(max = 300) byte[] content,
                                                  @ForAll("names") String name) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (CpioWriter w = new CpioWriter(bytes)) {
            w.file(name, 0644, content);
        }
        byte[] a = bytes.toByteArray();
        assertThat(a.length % 4).isZero();
        Path dir = Files.createTempDirectory("cpio-prop");
        try {
            Path archive = dir.resolve("p.cpio");
            Files.write(archive, a);
            Path out = Files.createDirectory(dir.resolve("out"));
            cpio(out, "-i", "-d", "-F", archive.toString());
            assertThat(Files.readAllBytes(out.resolve(name))).isEqualTo(content);
        } finally {
            LabCache.deleteTree(dir);
        }
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<String> names() {
        return net.jqwik.api.Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(13)
                .list().ofMinSize(1).ofMaxSize(3).map(l -> String.join("/", l));
    }

    @Test
    void rejectsPathsThatEscapeTheArchiveRoot() {
        CpioWriter w = new CpioWriter(new ByteArrayOutputStream());
        assertThatThrownBy(() -> w.file("../etc/passwd", 0644, new byte[0])).hasMessageContaining("'..'");
        assertThatThrownBy(() -> w.file("a//b", 0644, new byte[0])).hasMessageContaining("invalid cpio path");
        assertThatThrownBy(() -> w.file("/", 0644, new byte[0])).hasMessageContaining("invalid cpio path");
        assertThatThrownBy(() -> w.file("TRAILER!!!", 0644, new byte[0])).hasMessageContaining("invalid cpio path");
    }

    @Test
    void refusesEntriesAfterTheTrailer() throws IOException {
        CpioWriter w = new CpioWriter(new ByteArrayOutputStream());
        w.finish();
        assertThatThrownBy(() -> w.file("x", 0644, new byte[0])).isInstanceOf(IllegalStateException.class);
    }

    private static String cpio(Path dir, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("cpio", "--quiet"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("cpio %s: %s", cmd, out).isZero();
        return out;
    }
}
