package io.qingtian.card.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.card.control.ControlClient;
import io.qingtian.card.control.ControlRequest;
import io.qingtian.card.control.ControlRequest.CreateVolume;
import io.qingtian.card.control.ControlResponse;
import io.qingtian.card.crypto.AesXts;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.volume.VolumeInfo;
import io.qingtian.sys.UserError;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real card (in this JVM) driven through its real control socket and a real vhost-user front-end. */
class CardDaemonTest {
    @TempDir
    Path tmp;

    static CreateVolume create(String name, long size) {
        return new CreateVolume(name, size, false, null, null, null, null, null, null);
    }

    static ControlResponse call(Path state, ControlRequest r) {
        try (ControlClient c = ControlClient.connect(state)) {
            return c.call(r);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void volumeLifecycleOverTheControlSocket() throws Exception {
        Path state = tmp.resolve("state");
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            assertThat(call(state, new ControlRequest.Status())).isInstanceOf(ControlResponse.Ok.class);
            assertThat(call(state, create("a", 1 << 20))).isEqualTo(new ControlResponse.Ok("volume a created (1M)"));
            assertThat(call(state, create("a", 1 << 20))).isEqualTo(new ControlResponse.Failure("volume a exists"));
            assertThat(call(state, create("b", 1000))).isEqualTo(new ControlResponse.Failure("size must be a multiple of 512"));
            assertThat(call(state, create("../etc", 512))).isInstanceOf(ControlResponse.Failure.class);
            assertThat(call(state, create("a.tmp", 512))).isInstanceOf(ControlResponse.Failure.class);
            assertThat(call(state, new ControlRequest.ResizeVolume("a", 4 << 20))).isInstanceOf(ControlResponse.Ok.class);
            assertThat(Files.size(state.resolve("volumes/a.img"))).isEqualTo(4 << 20);
            var list = (ControlResponse.Volumes) call(state, new ControlRequest.ListVolumes());
            assertThat(list.volumes()).extracting(VolumeInfo::name, VolumeInfo::sizeBytes).containsExactly(
                    org.assertj.core.groups.Tuple.tuple("a", 4L << 20));
            assertThat(call(state, new ControlRequest.DeleteVolume("a"))).isInstanceOf(ControlResponse.Ok.class);
            assertThat(call(state, new ControlRequest.DeleteVolume("a"))).isEqualTo(new ControlResponse.Failure("no volume a"));
            assertThat(state.resolve("volumes/a.img")).doesNotExist();
        }
        assertThat(state.resolve("control.sock")).doesNotExist();
    }

    @Test
    void secondCardOnTheSameStateIsRefusedAndRestartKeepsVolumes() throws Exception {
        Path state = tmp.resolve("state");
        byte[] key = new byte[64];
        new Random(7).nextBytes(key);
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            assertThatThrownBy(() -> CardDaemon.start(new StateDir(state), Exporters.vhostUser()))
                    .isInstanceOf(UserError.class).hasMessageContaining("already running on");
            assertThat(call(state, new CreateVolume("e", 1L << 20, true, Base64.getEncoder().encodeToString(key),
                    100L, null, 1L << 20, null, null))).isInstanceOf(ControlResponse.Ok.class);
        }
        // Keys are never stored in clear beside the data.
        String meta = Files.readString(state.resolve("volumes/e.json"));
        assertThat(meta).doesNotContain(Base64.getEncoder().encodeToString(key)).contains("wrappedKey");
        assertThat(Files.getPosixFilePermissions(state.resolve("keys/master.key")))
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            var list = (ControlResponse.Volumes) call(state, new ControlRequest.ListVolumes());
            assertThat(list.volumes()).singleElement().satisfies(v -> {
                assertThat(v.encrypted()).isTrue();
                assertThat(v.iops()).isEqualTo(100);
            });
            // The wrapped key still opens the volume after a restart.
            card.volumes().openBackend("e", true).close();
        }
    }

    @Test
    void exportedEncryptedVolumeServesAVhostUserFrontEndAndIsProtected() throws Exception {
        Path state = tmp.resolve("state");
        Path sock = tmp.resolve("e.sock");
        byte[] key = new byte[64];
        new Random(1).nextBytes(key);
        byte[] data = new byte[8192];
        new Random(2).nextBytes(data);
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            call(state, new CreateVolume("e", 4L << 20, true, Base64.getEncoder().encodeToString(key), null, null, null, null, null));
            assertThat(call(state, new ControlRequest.ExportVolume("e", sock.toString(), 2, false)))
                    .isInstanceOf(ControlResponse.Ok.class);
            try (VirtioBlkDriver d = VirtioBlkDriver.connect(sock, VirtioBlkDriver.Options.defaults().withQueues(2))) {
                assertThat(d.config().capacitySectors()).isEqualTo((4L << 20) / 512);
                assertThat(d.write(1, 100, data)).isZero();
                assertThat(d.flush(1)).isZero();
                byte[] back = new byte[8192];
                assertThat(d.read(0, 100, back)).isZero();
                assertThat(back).isEqualTo(data);

                assertThat(call(state, new ControlRequest.DeleteVolume("e"))).isInstanceOf(ControlResponse.Failure.class);
                assertThat(call(state, new ControlRequest.ResizeVolume("e", 2L << 20)))
                        .isEqualTo(new ControlResponse.Failure("volume e is exported at " + sock + "; refusing to shrink it"));
                assertThat(call(state, new ControlRequest.ResizeVolume("e", 8L << 20))).isInstanceOf(ControlResponse.Ok.class);
                assertThat(call(state, new ControlRequest.ExportVolume("e", sock.toString(), 1, false)))
                        .isInstanceOf(ControlResponse.Failure.class);
            }
            // On disk: dm-crypt plain64 layout, sector 100 onwards encrypted with tweak = sector number.
            byte[] disk = new byte[8192];
            try (RandomAccessFile f = new RandomAccessFile(state.resolve("volumes/e.img").toFile(), "r")) {
                f.seek(100 * 512);
                f.readFully(disk);
            }
            byte[] expected = data.clone();
            new AesXts(key).encrypt(100, expected, 0, expected.length);
            assertThat(disk).isEqualTo(expected);
            assertThat(call(state, new ControlRequest.UnexportVolume("e"))).isInstanceOf(ControlResponse.Ok.class);
            assertThat(sock).doesNotExist();
            assertThat(call(state, new ControlRequest.ResizeVolume("e", 2L << 20))).isInstanceOf(ControlResponse.Ok.class);
            assertThat(call(state, new ControlRequest.DeleteVolume("e"))).isInstanceOf(ControlResponse.Ok.class);
        }
    }

    @Test
    void exportsAreRestoredWhenTheCardStartsAgainUntilUnexported() throws Exception {
        Path state = tmp.resolve("state");
        Path sock = tmp.resolve("v.sock");
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            call(state, create("v", 1 << 20));
            call(state, new ControlRequest.ExportVolume("v", sock.toString(), 1, false));
        }
        assertThat(sock).doesNotExist();
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            var list = (ControlResponse.Volumes) call(state, new ControlRequest.ListVolumes());
            assertThat(list.volumes()).singleElement().extracting(VolumeInfo::exportedAt).isEqualTo(sock.toString());
            try (VirtioBlkDriver d = VirtioBlkDriver.connect(sock, VirtioBlkDriver.Options.defaults())) {
                assertThat(d.getId(0)).startsWith("qt-");
            }
            call(state, new ControlRequest.UnexportVolume("v"));
        }
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser())) {
            var list = (ControlResponse.Volumes) call(state, new ControlRequest.ListVolumes());
            assertThat(list.volumes()).singleElement().extracting(VolumeInfo::exportedAt).isNull();
        }
    }
}
