package io.qingtian.e2e.card;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.card.crypto.AesXts;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The card CLI against a real card process: volume lifecycle, errors, kill -9 durability, SIGTERM. */
class CardCliTest {
    @TempDir
    Path tmp;

    @Test
    void volumeLifecycleErrorsAndCrashDurability() throws Exception {
        Path state = tmp.resolve("state");
        String st = state.toString();
        Qt.Result notRunning = Qt.run("card", "volume", "list", "--state", st);
        assertThat(notRunning.exit()).isEqualTo(2);
        assertThat(notRunning.err().strip()).isEqualTo("qt: card not running at " + state + " (no control.sock)");

        byte[] key = new byte[64];
        new Random(11).nextBytes(key);
        Path keyFile = tmp.resolve("vol.key");
        Files.write(keyFile, key);
        byte[] data = new byte[(1 << 20) + 1000]; // not a whole number of sectors: the tail is zero-padded
        new Random(12).nextBytes(data);
        Path image = tmp.resolve("data.raw");
        Files.write(image, data);

        try (CardProcess card = CardProcess.start(state)) {
            assertThat(Qt.ok("card", "volume", "create", "plain", "--size", "8M", "--state", st)).contains("volume plain created (8M)");
            assertThat(Qt.ok("card", "volume", "create", "secret", "--size", "8M", "--encrypt", "--key-file", keyFile.toString(),
                    "--state", st)).contains("aes-xts-plain64");
            Qt.ok("card", "volume", "create", "slow", "--size", "1M", "--iops", "50", "--bandwidth", "1M", "--state", st);

            Qt.Result dup = Qt.run("card", "volume", "create", "plain", "--size", "8M", "--state", st);
            assertThat(dup.exit()).isEqualTo(2);
            assertThat(dup.err().strip()).isEqualTo("qt: volume plain exists");
            Qt.Result odd = Qt.run("card", "volume", "create", "odd", "--size", "1000", "--state", st);
            assertThat(odd.err().strip()).isEqualTo("qt: size must be a multiple of 512");
            Qt.Result traversal = Qt.run("card", "volume", "create", "../../etc/x", "--size", "1M", "--state", st);
            assertThat(traversal.exit()).isEqualTo(2);
            assertThat(traversal.err()).contains("bad volume name");
            Qt.Result shortKey = Qt.run("card", "volume", "create", "k", "--size", "1M", "--encrypt", "--key-file", image.toString(), "--state", st);
            assertThat(shortKey.err()).contains("must hold exactly 64 raw bytes");
            Qt.Result second = Qt.run("card", "run", "--state", st);
            assertThat(second.exit()).isEqualTo(2);
            assertThat(second.err()).contains("a card is already running on " + state);

            assertThat(Qt.ok("card", "volume", "resize", "plain", "--size", "16M", "--state", st)).contains("resized to 16M");
            assertThat(Qt.ok("card", "volume", "delete", "slow", "--state", st)).contains("deleted");
            assertThat(Qt.ok("card", "volume", "import", "plain", "--from", image.toString(), "--state", st)).contains("flushed");
            assertThat(Qt.ok("card", "volume", "import", "secret", "--from", image.toString(), "--state", st)).contains("flushed");
            String list = Qt.ok("card", "volume", "list", "--state", st);
            assertThat(list).containsPattern("plain\\s+16M\\s+no").containsPattern("secret\\s+8M\\s+aes-xts").doesNotContain("slow");

            // The import was acknowledged after a flush: kill -9 now must lose nothing.
            card.kill9();
        }
        assertThat(state.resolve("control.sock")).exists(); // stale: nobody removed it
        byte[] plainOnDisk = read(state.resolve("volumes/plain.img"), data.length);
        assertThat(plainOnDisk).isEqualTo(data);
        byte[] secretOnDisk = read(state.resolve("volumes/secret.img"), 1 << 20);
        assertThat(secretOnDisk).isNotEqualTo(java.util.Arrays.copyOf(data, 1 << 20));
        new AesXts(key).decrypt(0, secretOnDisk, 0, secretOnDisk.length);
        assertThat(secretOnDisk).isEqualTo(java.util.Arrays.copyOf(data, 1 << 20));
        assertThat(Files.readString(state.resolve("volumes/secret.json"))).doesNotContain(java.util.HexFormat.of().formatHex(key));

        try (CardProcess card = CardProcess.start(state)) {
            String list = Qt.ok("card", "volume", "list", "--state", st);
            assertThat(list).containsPattern("plain\\s+16M").containsPattern("secret\\s+8M\\s+aes-xts");
            assertThat(Qt.ok("card", "volume", "list", "--json", "--state", st))
                    .contains("\"name\":\"secret\",\"sizeBytes\":8388608,\"backend\":\"file\",\"encrypted\":true");
            assertThat(card.terminate()).isEqualTo(143); // SIGTERM: clean stop through the shutdown hook
            assertThat(card.log()).contains("stopped");
        }
        assertThat(state.resolve("control.sock")).doesNotExist();
    }

    static byte[] read(Path file, int n) throws Exception {
        byte[] b = new byte[n];
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.readFully(b);
        }
        return b;
    }
}
