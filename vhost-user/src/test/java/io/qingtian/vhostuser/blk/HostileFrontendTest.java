package io.qingtian.vhostuser.blk;

import static io.qingtian.virtio.blk.VirtioBlk.VIRTIO_BLK_S_OK;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.sys.Libc;
import io.qingtian.sys.UnixSockets;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver.Options;
import io.qingtian.vhostuser.protocol.Message;
import io.qingtian.vhostuser.protocol.MemoryRegion;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed and hostile front-ends: each gets its connection closed (the back-end answers
 * nothing more), and the device keeps serving the next front-end and other devices.
 */
@Timeout(60)
class HostileFrontendTest {
    @TempDir
    Path dir;

    private static boolean closedByBackend(VhostUserFrontend fe) {
        try {
            return fe.receiveRaw() == null;
        } catch (VhostUserProtocolException | RuntimeException e) {
            return true;
        }
    }

    private void assertStillServes(VhostUserBlkServer server) throws Exception {
        try (VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            assertThat(d.write(0, 0, new byte[512])).isEqualTo(VIRTIO_BLK_S_OK);
        }
    }

    @Test
    void garbageHeaderClosesTheConnectionOnly() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), 1 << 20, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false);
             FileBlockBackend file2 = new FileBlockBackend(dir.resolve("d2"), 1 << 20, false, "y");
             VhostUserBlkServer other = VhostUserBlkServer.start(dir.resolve("s2"), file2, 1, false);
             VirtioBlkDriver healthy = VirtioBlkDriver.connect(other.socket(), Options.defaults())) {
            try (VhostUserFrontend fe = VhostUserFrontend.connect(server.socket())) {
                fe.sendRaw(new Message(999, 1, new byte[0], new int[0]));
                assertThat(closedByBackend(fe)).isTrue();
            }
            // A header announcing a huge payload.
            int fd = UnixSockets.connect(server.socket());
            try (Arena a = Arena.ofConfined()) {
                MemorySegment h = a.allocate(12);
                h.set(ValueLayout.JAVA_INT, 0, 1);
                h.set(ValueLayout.JAVA_INT, 4, 1);
                h.set(ValueLayout.JAVA_INT, 8, 0x7FFF_FFFF);
                UnixSockets.sendmsg(fd, h, 12, new int[0]);
                MemorySegment buf = a.allocate(64);
                assertThat(UnixSockets.recvmsg(fd, buf).bytes()).isZero();
            } finally {
                Libc.closeQuietly(fd);
            }
            // A truncated message: header says 8 bytes, peer hangs up after 3.
            fd = UnixSockets.connect(server.socket());
            try (Arena a = Arena.ofConfined()) {
                MemorySegment h = a.allocate(15);
                h.set(ValueLayout.JAVA_INT, 0, 2);
                h.set(ValueLayout.JAVA_INT, 4, 1);
                h.set(ValueLayout.JAVA_INT, 8, 8);
                UnixSockets.sendmsg(fd, h, 15, new int[0]);
            } finally {
                Libc.closeQuietly(fd);
            }
            assertStillServes(server);
            assertThat(healthy.write(0, 0, new byte[512])).isEqualTo(VIRTIO_BLK_S_OK);
        }
    }

    @Test
    void absurdRingSizeClosesTheConnection() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), 1 << 20, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false)) {
            for (int size : new int[] {0, 3, 65536, -1}) {
                try (VhostUserFrontend fe = VhostUserFrontend.connect(server.socket())) {
                    fe.setVringNum(0, size);
                    assertThat(closedByBackend(fe)).as("size %d", size).isTrue();
                }
            }
            try (VhostUserFrontend fe = VhostUserFrontend.connect(server.socket())) {
                fe.setVringNum(5, 128); // no such queue
                assertThat(closedByBackend(fe)).isTrue();
            }
            assertStillServes(server);
        }
    }

    @Test
    void memoryTableLongerThanItsFdIsRefused() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), 1 << 20, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false);
             VhostUserFrontend fe = VhostUserFrontend.connect(server.socket())) {
            int memfd = Libc.memfdCreate("short", Libc.MFD_CLOEXEC);
            try {
                Libc.ftruncate(memfd, 4096);
                fe.setProtocolFeatures(1L << 3); // REPLY_ACK: the refusal comes back as a status
                try {
                    fe.setMemTable(List.of(new MemoryRegion(0, 1 << 20, 0x7000_0000L, 0)), new int[] {memfd});
                    throw new AssertionError("accepted a region larger than its fd");
                } catch (VhostUserProtocolException e) {
                    assertThat(e).hasMessageContaining("refused SET_MEM_TABLE");
                }
            } finally {
                Libc.closeQuietly(memfd);
            }
        }
    }

    @Test
    void ringOutsideTheMemoryTableNeverStarts() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), 1 << 20, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 1, false);
             VhostUserFrontend fe = VhostUserFrontend.connect(server.socket())) {
            int memfd = Libc.memfdCreate("mem", Libc.MFD_CLOEXEC);
            int kick = Libc.eventfd(0, Libc.EFD_CLOEXEC);
            try {
                Libc.ftruncate(memfd, 1 << 20);
                fe.setProtocolFeatures(1L << 3);
                fe.setMemTable(List.of(new MemoryRegion(0, 1 << 20, 0x7000_0000L, 0)), new int[] {memfd});
                fe.setVringNum(0, 256);
                fe.setVringAddr(0, 0x7000_0000L + (1 << 20) - 16, 0x7000_0000L, 0x7000_1000L);
                fe.setVringKick(0, kick);
                fe.setVringEnable(0, true);
                // The ring cannot start; the connection stays usable and reports the base.
                assertThat(fe.getVringBase(0)).isZero();
            } finally {
                Libc.closeQuietly(memfd);
                Libc.closeQuietly(kick);
            }
        }
    }
}
