package io.qingtian.vhostuser.blk;

import static io.qingtian.virtio.blk.VirtioBlk.VIRTIO_BLK_S_OK;
import static io.qingtian.vhostuser.protocol.VhostUser.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.Libc;
import io.qingtian.vhostuser.frontend.VhostUserFrontend;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver.Options;
import io.qingtian.vhostuser.protocol.Request.SetInflightFd;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GET/SET_INFLIGHT_FD from front-ends that get them wrong: a region the back-end cannot
 * serve is refused with a clear reason (or answered with "no region"), a message without the
 * feature negotiated closes the connection, and the server keeps serving the next front-end.
 */
@Timeout(60)
class HostileInflightTest {
    @TempDir
    Path dir;

    private static VhostUserFrontend negotiated(Path socket, long protocolFeatures) throws VhostUserProtocolException {
        VhostUserFrontend fe = VhostUserFrontend.connect(socket);
        fe.setOwner();
        fe.getFeatures();
        assertThat(fe.getProtocolFeatures() & bit(PROTOCOL_F_INFLIGHT_SHMFD)).as("offered").isNotZero();
        fe.setProtocolFeatures(protocolFeatures);
        return fe;
    }

    private static void assertStillServes(VhostUserBlkServer server) throws Exception {
        try (VirtioBlkDriver d = VirtioBlkDriver.connect(server.socket(), Options.defaults())) {
            assertThat(d.write(0, 0, new byte[512])).isEqualTo(VIRTIO_BLK_S_OK);
        }
        assertThat(server.inflightStats().regionsSet()).as("the healthy driver's region").isPositive();
    }

    @Test
    void badRegionsAreRefusedAndTheServerGoesOn() throws Exception {
        try (FileBlockBackend file = new FileBlockBackend(dir.resolve("d"), 1 << 20, false, "x");
             VhostUserBlkServer server = VhostUserBlkServer.start(dir.resolve("s"), file, 2, false)) {
            long pf = bit(PROTOCOL_F_REPLY_ACK) | bit(PROTOCOL_F_INFLIGHT_SHMFD);
            try (VhostUserFrontend fe = negotiated(server.socket(), pf)) {
                SetInflightFd none = fe.getInflightFd(1, 100); // not a power of two
                assertThat(none.mmapSize()).isZero();
                assertThat(none.fd()).isNegative();
                assertThat(fe.getInflightFd(3, 64).fd()).as("more queues than the device has").isNegative();

                SetInflightFd good = fe.getInflightFd(2, 64);
                assertThat(good.fd()).isNotNegative();
                assertThat(good.mmapSize()).isEqualTo(2 * 1088); // 2 queues of align64(16*64+2)
                int shortFd = Libc.memfdCreate("short", Libc.MFD_CLOEXEC);
                try {
                    Libc.ftruncate(shortFd, 100);
                    assertThatThrownBy(() -> fe.setInflightFd(new SetInflightFd(good.mmapSize(), 0, 2, 64, shortFd)))
                            .hasMessageContaining("refused SET_INFLIGHT_FD");
                    assertThatThrownBy(() -> fe.setInflightFd(new SetInflightFd(64, 0, 2, 64, good.fd())))
                            .as("size too small for the geometry").hasMessageContaining("refused");
                    assertThatThrownBy(() -> fe.setInflightFd(new SetInflightFd(good.mmapSize(), 4096, 2, 64, good.fd())))
                            .as("offset beyond the fd").hasMessageContaining("refused");
                    fe.setInflightFd(good); // and the right one is accepted on the same connection
                } finally {
                    Libc.closeQuietly(shortFd);
                    Libc.closeQuietly(good.fd());
                }
            }
            assertThat(server.inflightStats().regionsSet()).isEqualTo(1);
            // Without PROTOCOL_F_INFLIGHT_SHMFD acked, the messages are a protocol violation.
            try (VhostUserFrontend fe = negotiated(server.socket(), bit(PROTOCOL_F_REPLY_ACK))) {
                assertThatThrownBy(() -> fe.getInflightFd(1, 64)).isInstanceOf(VhostUserProtocolException.class);
            }
            assertStillServes(server);
        }
    }
}
