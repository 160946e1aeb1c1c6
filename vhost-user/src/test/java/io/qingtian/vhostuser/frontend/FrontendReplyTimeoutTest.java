package io.qingtian.vhostuser.frontend;

import static io.qingtian.vhostuser.protocol.VhostUser.PROTOCOL_F_REPLY_ACK;
import static io.qingtian.vhostuser.protocol.VhostUser.bit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.Libc;
import io.qingtian.sys.UnixSockets;
import io.qingtian.vhostuser.protocol.Message;
import io.qingtian.vhostuser.protocol.RequestCode;
import io.qingtian.vhostuser.protocol.VhostUserCodec;
import io.qingtian.vhostuser.protocol.VhostUserProtocolException;
import io.qingtian.vhostuser.protocol.VhostUserSocket;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front-end's bounded reply wait against peers that accept the connection and then do
 * not answer, answer late, or stop in the middle of a reply.
 */
class FrontendReplyTimeoutTest {
    static final Duration BOUND = Duration.ofMillis(300);

    @TempDir
    Path tmp;

    Peer peer;
    VhostUserFrontend fe;

    /** A back-end that reads requests and answers what {@code answer} returns (null: nothing) after {@code delay}. */
    static final class Peer implements AutoCloseable {
        final int listenFd;
        final Thread thread;
        final List<Integer> requests = new CopyOnWriteArrayList<>();
        final CountDownLatch sawEof = new CountDownLatch(1);
        volatile VhostUserSocket conn;

        Peer(Path path, Duration delay, Function<Message, Message> answer) {
            listenFd = UnixSockets.listen(path, 4);
            thread = Thread.ofPlatform().daemon().name("test-peer").start(() -> {
                try {
                    conn = new VhostUserSocket(UnixSockets.accept(listenFd));
                    while (true) {
                        Message m = conn.receive(false);
                        if (m == null) {
                            sawEof.countDown();
                            return;
                        }
                        requests.add(m.request());
                        Message reply = answer.apply(m);
                        if (reply != null) {
                            Thread.sleep(delay);
                            conn.send(reply);
                        }
                    }
                } catch (Exception e) {
                    // closed under us at the end of the test
                }
            });
        }

        @Override
        public void close() {
            VhostUserSocket c = conn;
            if (c != null) {
                c.shutdown();
            }
            Libc.closeQuietly(listenFd);
        }
    }

    @AfterEach
    void tearDown() {
        if (fe != null) {
            fe.close();
        }
        if (peer != null) {
            peer.close();
        }
    }

    @Test
    void aPeerThatNeverAnswersFailsTheRequestWithinTheBound() throws Exception {
        Path sock = tmp.resolve("silent.sock");
        peer = new Peer(sock, Duration.ZERO, m -> null);
        fe = VhostUserFrontend.connect(sock, BOUND);
        long t0 = System.nanoTime();
        assertThatThrownBy(fe::getFeatures)
                .isInstanceOf(VhostUserProtocolException.class)
                .hasMessage("vhost-user back-end " + sock + " did not answer GET_FEATURES within 300 ms");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms).as("waited the bound, not forever").isBetween(250L, 10_000L);
        // The connection is over: the peer sees the hang-up, and the next request fails at once.
        assertThat(peer.sawEof.await(10, TimeUnit.SECONDS)).as("peer sees the front-end hang up").isTrue();
        long t1 = System.nanoTime();
        assertThatThrownBy(fe::getQueueNum).isInstanceOf(VhostUserProtocolException.class)
                .hasMessageContaining("is broken").hasMessageContaining("did not answer GET_FEATURES");
        assertThat((System.nanoTime() - t1) / 1_000_000).as("no second wait").isLessThan(250L);
        assertThat(fe.broken()).contains("GET_FEATURES");
    }

    @Test
    void aMissingAckTimesOutOnTheAckedRequest() throws Exception {
        Path sock = tmp.resolve("ack.sock");
        peer = new Peer(sock, Duration.ZERO, m -> null);
        fe = VhostUserFrontend.connect(sock, BOUND);
        fe.setProtocolFeatures(bit(PROTOCOL_F_REPLY_ACK)); // no ack expected for this one
        assertThatThrownBy(() -> fe.setVringNum(0, 64))
                .isInstanceOf(VhostUserProtocolException.class)
                .hasMessage("vhost-user back-end " + sock + " did not answer SET_VRING_NUM within 300 ms");
    }

    @Test
    void aLateAnswerWithinTheBoundIsTaken() throws Exception {
        Path sock = tmp.resolve("late.sock");
        peer = new Peer(sock, Duration.ofMillis(200), m -> {
            if (m.request() == RequestCode.GET_FEATURES.code()) {
                return VhostUserCodec.u64Reply(RequestCode.GET_FEATURES, 0x1234L);
            }
            return m.needsReply() ? VhostUserCodec.u64Reply(RequestCode.of(m.request()), 0) : null;
        });
        fe = VhostUserFrontend.connect(sock, Duration.ofSeconds(5));
        assertThat(fe.getFeatures()).isEqualTo(0x1234L);
        fe.setProtocolFeatures(bit(PROTOCOL_F_REPLY_ACK));
        fe.setVringNum(0, 64); // acked 200 ms later
        assertThat(fe.broken()).isNull();
        assertThat(peer.requests).contains(RequestCode.GET_FEATURES.code(), RequestCode.SET_VRING_NUM.code());
    }

    @Test
    void aReplyCutOffMidHeaderTimesOutToo() throws Exception {
        Path sock = tmp.resolve("half.sock");
        peer = new Peer(sock, Duration.ZERO, m -> null);
        fe = VhostUserFrontend.connect(sock, BOUND);
        Thread.ofPlatform().daemon().start(() -> {
            try {
                while (peer.requests.isEmpty()) {
                    Thread.sleep(5);
                }
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment half = a.allocate(6); // 6 of the 12 header bytes, then silence
                    half.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0, RequestCode.GET_FEATURES.code());
                    UnixSockets.sendmsg(peer.conn.fd(), half, 6, new int[0]);
                }
            } catch (Exception ignored) {
                // the test fails on its own assertions
            }
        });
        assertThatThrownBy(fe::getFeatures).isInstanceOf(VhostUserProtocolException.class)
                .hasMessageContaining("did not answer GET_FEATURES within 300 ms");
    }

    @Test
    void theBoundMustBePositive() {
        Path sock = tmp.resolve("zero.sock");
        peer = new Peer(sock, Duration.ZERO, m -> null);
        assertThatThrownBy(() -> VhostUserFrontend.connect(sock, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theDefaultBoundIsGenerous() {
        assertThat(VhostUserFrontend.DEFAULT_REPLY_TIMEOUT).isGreaterThanOrEqualTo(Duration.ofSeconds(30));
        assertThat(VhostUserFrontend.describe(Duration.ofSeconds(30))).isEqualTo("30 s");
        assertThat(VhostUserFrontend.describe(Duration.ofMillis(300))).isEqualTo("300 ms");
    }
}
