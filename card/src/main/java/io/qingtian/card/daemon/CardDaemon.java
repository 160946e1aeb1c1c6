package io.qingtian.card.daemon;

import io.qingtian.card.control.ControlServer;
import io.qingtian.card.control.ControlService;
import io.qingtian.card.crypto.MasterKey;
import io.qingtian.card.export.BlockExporter;
import io.qingtian.card.fs.Durable;
import io.qingtian.card.fs.Json;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.card.volume.VolumeStore;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * One running card: owns a state directory (exclusively, through {@code card.lock}), its
 * master key, its volumes and the control socket. {@link #close()} is the clean shutdown
 * (SIGTERM runs it from a shutdown hook): stop accepting control requests and finish the ones
 * in progress, close every export (each backend is fdatasync'd), remove the socket, release
 * the lock. A kill -9 skips all of that; the lock is released by the kernel and every
 * acknowledged flush is already on disk.
 */
public final class CardDaemon implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(CardDaemon.class.getName());

    private final StateDir state;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final VolumeManager volumes;
    private final ControlServer control;
    // card-control: network, trust, tenants, instances, HTTP API (io.qingtian.card.api.ControlPlane)
    private io.qingtian.card.api.ControlPlane plane;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private boolean closed;

    private CardDaemon(StateDir state, FileChannel lockChannel, FileLock lock, VolumeManager volumes, ControlServer control) {
        this.state = state;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.volumes = volumes;
        this.control = control;
    }

    public static CardDaemon start(StateDir state, BlockExporter exporter) throws IOException {
        return start(state, exporter, null);
    }

    /** With {@code plane} options (null = volumes only): also hosts the card's other services. */
    public static CardDaemon start(StateDir state, BlockExporter exporter,
            io.qingtian.card.api.ControlPlane.Options plane) throws IOException {
        Files.createDirectories(state.root());
        FileChannel lc = FileChannel.open(state.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = lc.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by another card in this very JVM (tests)
        }
        if (lock == null) {
            String pid = Files.readString(state.lockFile()).trim();
            lc.close();
            throw new UserError("a card is already running on " + state.root() + (pid.isEmpty() ? "" : " (pid " + pid + ")"));
        }
        VolumeManager vm = null;
        try {
            lc.truncate(0);
            lc.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            CardIdentity id = identity(state);
            MasterKey master = MasterKey.loadOrCreate(state.keys());
            vm = new VolumeManager(new VolumeStore(state.volumes()), master, exporter, state.exportsFile());
            vm.restoreExports();
            ControlService service = new ControlService(vm, "card " + id.cardId() + " running at " + state.root()
                    + " (pid " + ProcessHandle.current().pid() + ")");
            io.qingtian.card.api.ControlPlane cp = plane == null ? null
                    : io.qingtian.card.api.ControlPlane.start(state.root(), vm, plane);
            ControlServer server;
            try {
                server = new ControlServer(state.controlSocket(), service);
            } catch (IOException | RuntimeException e) {
                if (cp != null) {
                    cp.close();
                }
                throw e;
            }
            if (cp != null) {
                server.extension(cp::serveControlLine);
            }
            LOG.info("card " + id.cardId() + " running at " + state.root());
            CardDaemon d = new CardDaemon(state, lc, lock, vm, server);
            d.plane = cp;
            return d;
        } catch (IOException | RuntimeException e) {
            if (vm != null) {
                vm.close();
            }
            lock.release();
            lc.close();
            throw e;
        }
    }

    private static CardIdentity identity(StateDir state) throws IOException {
        if (Files.exists(state.cardJson())) {
            CardIdentity id = Json.MAPPER.readValue(state.cardJson().toFile(), CardIdentity.class);
            if (id.format() != CardIdentity.FORMAT) {
                throw new UserError(state.cardJson() + " has format " + id.format() + "; this card reads " + CardIdentity.FORMAT);
            }
            return id;
        }
        CardIdentity id = new CardIdentity(CardIdentity.FORMAT, UUID.randomUUID().toString(), Instant.now().toString());
        Durable.writeAtomically(state.cardJson(), Json.MAPPER.writeValueAsBytes(id));
        return id;
    }

    /**
     * Shutdown messages go straight to stderr: java.util.logging resets its handlers in its own
     * shutdown hook, which races with ours, so logged lines would be lost on SIGTERM.
     */
    private static void say(String message) {
        System.err.println(java.time.LocalDateTime.now() + " INFO " + message);
    }

    public StateDir state() {
        return state;
    }

    public VolumeManager volumes() {
        return volumes;
    }

    /** The hosted services (null when started for volumes only). */
    public io.qingtian.card.api.ControlPlane plane() {
        return plane;
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        say("card at " + state.root() + " stopping");
        control.close();
        if (plane != null) {
            plane.close();
        }
        volumes.close();
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            say("releasing " + state.lockFile() + ": " + e.getMessage());
        }
        say("card at " + state.root() + " stopped");
        stopped.countDown();
    }
}
