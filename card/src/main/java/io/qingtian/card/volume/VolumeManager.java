package io.qingtian.card.volume;

import io.qingtian.card.crypto.AesXts;
import io.qingtian.card.crypto.MasterKey;
import io.qingtian.card.export.BlockExporter;
import io.qingtian.card.nbd.NbdBackend;
import io.qingtian.card.nbd.NbdTarget;
import io.qingtian.card.qos.QosBackend;
import io.qingtian.card.qos.Ticker;
import io.qingtian.card.qos.TokenBucket;
import io.qingtian.card.storage.EncryptedBackend;
import io.qingtian.card.storage.FileBackend;
import io.qingtian.sys.UserError;
import io.qingtian.virtio.blk.BlockBackend;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The card's storage service: the volume operations of the CLI and control API. Operations are
 * serialized (one at a time; they are rare and must see a consistent set of volumes), while the
 * data path of exported volumes runs in the exporter's queue workers without touching this lock.
 */
public final class VolumeManager implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(VolumeManager.class.getName());
    public static final int KEY_BYTES = 64;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final VolumeStore store;
    private final MasterKey masterKey;
    private final BlockExporter exporter;
    private final Map<String, Exported> exports = new LinkedHashMap<>();

    /** An exported volume: its open backend stack, the bottom file (for resizes) and the server. */
    private record Exported(Path socket, int queues, boolean readOnly, BlockBackend backend, FileBackend file,
            BlockExporter.Export export) {}

    /** The request to create a volume, as validated input. Key is null to generate one. */
    public record CreateSpec(String name, Long sizeBytes, boolean encrypt, byte[] key, NbdTarget nbd,
            VolumeMeta.Qos qos) {}

    /** One persisted export ({@code exports.json}): restored when the card restarts. */
    public record ExportSpec(String name, String socket, int queues, boolean readOnly) {}

    private final java.nio.file.Path exportsFile;

    public VolumeManager(VolumeStore store, MasterKey masterKey, BlockExporter exporter) {
        this(store, masterKey, exporter, null);
    }

    /** @param exportsFile where exports are remembered across restarts, or null not to */
    public VolumeManager(VolumeStore store, MasterKey masterKey, BlockExporter exporter, java.nio.file.Path exportsFile) {
        this.store = store;
        this.masterKey = masterKey;
        this.exporter = exporter;
        this.exportsFile = exportsFile;
    }

    /**
     * Re-creates the exports the card had before it stopped or crashed, so a front-end with
     * reconnect enabled (QEMU {@code -chardev socket,...,reconnect=1}) finds its disk again.
     * A volume that cannot be exported any more is logged and forgotten; the others still come up.
     */
    public synchronized void restoreExports() throws IOException {
        if (exportsFile == null || !Files.exists(exportsFile)) {
            return;
        }
        ExportSpec[] specs = io.qingtian.card.fs.Json.MAPPER.readValue(exportsFile.toFile(), ExportSpec[].class);
        for (ExportSpec e : specs) {
            try {
                exportNow(e.name(), Path.of(e.socket()), e.queues(), e.readOnly());
            } catch (IOException | RuntimeException ex) {
                LOG.warning("cannot restore export of " + e.name() + " at " + e.socket() + ": " + ex.getMessage());
            }
        }
        saveExports();
    }

    private void saveExports() throws IOException {
        if (exportsFile == null) {
            return;
        }
        List<ExportSpec> specs = new ArrayList<>();
        exports.forEach((name, e) -> specs.add(new ExportSpec(name, e.socket().toString(), e.queues(), e.readOnly())));
        io.qingtian.card.fs.Durable.writeAtomically(exportsFile, io.qingtian.card.fs.Json.MAPPER.writeValueAsBytes(specs));
    }

    public synchronized VolumeMeta create(CreateSpec spec) throws IOException {
        String name = Names.check(spec.name());
        if (store.exists(name)) {
            throw new UserError("volume " + name + " exists");
        }
        if (spec.key() != null && !spec.encrypt()) {
            throw new UserError("a key file needs --encrypt");
        }
        long size;
        if (spec.nbd() != null) {
            long exportSize;
            try (NbdBackend probe = NbdBackend.connect(spec.nbd(), true, "probe")) {
                exportSize = probe.exportSize();
            } catch (IOException e) {
                throw new UserError("cannot use NBD export " + spec.nbd() + ": " + e.getMessage());
            }
            long usable = exportSize - exportSize % 512;
            size = spec.sizeBytes() == null ? usable : Sizes.check(spec.sizeBytes());
            if (size > usable || usable == 0) {
                throw new UserError("NBD export " + spec.nbd() + " has only " + usable + " usable bytes");
            }
        } else {
            if (spec.sizeBytes() == null) {
                throw new UserError("--size is required for a local volume");
            }
            size = Sizes.check(spec.sizeBytes());
        }
        VolumeMeta.Encryption enc = null;
        if (spec.encrypt()) {
            byte[] key = spec.key() != null ? spec.key().clone() : generateKey();
            try {
                checkKey(key);
                enc = new VolumeMeta.Encryption(VolumeMeta.Encryption.AES_XTS_PLAIN64, KEY_BYTES * 8, 512,
                        masterKey.wrap(name, key));
            } finally {
                Arrays.fill(key, (byte) 0);
            }
        }
        VolumeMeta.Qos qos = spec.qos();
        if (qos != null && (qos.iops() < 0 || qos.bandwidth() < 0 || qos.iopsBurst() < 0 || qos.bandwidthBurst() < 0)) {
            throw new UserError("QoS limits must not be negative");
        }
        if (qos != null && qos.iops() == 0 && qos.bandwidth() == 0) {
            qos = null;
        }
        String serial = "qt-" + HexFormat.of().formatHex(randomBytes(6));
        VolumeMeta meta = new VolumeMeta(VolumeMeta.FORMAT, name, serial, size, spec.nbd(), enc, qos,
                Instant.now().toString());
        if (spec.nbd() == null) {
            store.createImage(name, size);
        }
        store.save(meta); // the commit point
        LOG.info("created volume " + name + " (" + Sizes.human(size) + (enc != null ? ", encrypted" : "")
                + (spec.nbd() != null ? ", on nbd " + spec.nbd() : "") + ")");
        return meta;
    }

    public synchronized List<VolumeInfo> list() throws IOException {
        List<VolumeInfo> out = new ArrayList<>();
        for (VolumeMeta m : store.loadAll()) {
            Exported e = exports.get(m.name());
            out.add(new VolumeInfo(m.name(), m.sizeBytes(), m.remote() ? "nbd:" + m.nbd() : "file",
                    m.encryption() != null, m.qos() == null ? 0 : m.qos().iops(),
                    m.qos() == null ? 0 : m.qos().bandwidth(), m.serial(),
                    e == null ? null : e.socket().toString()));
        }
        return out;
    }

    public synchronized VolumeMeta resize(String name, long newSize) throws IOException {
        VolumeMeta m = load(name);
        Sizes.check(newSize);
        if (m.remote()) {
            throw new UserError("volume " + name + " lives on NBD " + m.nbd() + "; resize the remote export instead");
        }
        Exported e = exports.get(name);
        if (newSize < m.sizeBytes() && e != null) {
            throw new UserError("volume " + name + " is exported at " + e.socket() + "; refusing to shrink it");
        }
        VolumeMeta resized = m.withSize(newSize);
        if (newSize >= m.sizeBytes()) {
            // Grow: space first, then the metadata that makes it visible.
            store.resizeImage(name, newSize);
            store.save(resized);
        } else {
            // Shrink: forget the tail first, then free it.
            store.save(resized);
            store.resizeImage(name, newSize);
        }
        if (e != null) {
            e.file().updateSize(newSize);
        }
        LOG.info("resized volume " + name + " to " + Sizes.human(newSize));
        return resized;
    }

    public synchronized void delete(String name) throws IOException {
        load(name);
        Exported e = exports.get(name);
        if (e != null) {
            throw new UserError("volume " + name + " is exported at " + e.socket() + "; unexport it first");
        }
        store.delete(name);
        LOG.info("deleted volume " + name);
    }

    public synchronized void export(String name, Path socket, int queues, boolean readOnly) throws IOException {
        exportNow(name, socket, queues, readOnly);
        saveExports();
    }

    private void exportNow(String name, Path socket, int queues, boolean readOnly) throws IOException {
        VolumeMeta m = load(name);
        if (exports.containsKey(name)) {
            throw new UserError("volume " + name + " is already exported at " + exports.get(name).socket());
        }
        if (queues < 1 || queues > 64) {
            throw new UserError("queues must be between 1 and 64");
        }
        for (Exported other : exports.values()) {
            if (other.socket().equals(socket)) {
                throw new UserError("socket " + socket + " is already in use by another export");
            }
        }
        Opened o = open(m, readOnly);
        try {
            BlockExporter.Export ex = exporter.start(socket, o.backend(), queues, readOnly);
            exports.put(name, new Exported(socket, queues, readOnly, o.backend(), o.file(), ex));
            LOG.info("exported volume " + name + " at " + socket + " (" + queues + " queues" + (readOnly ? ", read-only" : "") + ")");
        } catch (IOException | RuntimeException ex) {
            o.backend().close();
            throw ex;
        }
    }

    public synchronized void unexport(String name) throws IOException {
        Exported e = exports.remove(name);
        if (e == null) {
            throw new UserError("volume " + name + " is not exported");
        }
        try {
            closeExport(name, e);
        } finally {
            saveExports();
        }
    }

    /**
     * Copies an image file into the volume through its whole backend stack (encryption
     * included), then flushes: when this returns, the data is durable.
     */
    public synchronized long importImage(String name, Path source) throws IOException {
        VolumeMeta m = load(name);
        if (exports.containsKey(name)) {
            throw new UserError("volume " + name + " is exported; refusing to write under a running guest");
        }
        if (!Files.isRegularFile(source)) {
            throw new UserError("no such file: " + source);
        }
        long len = Files.size(source);
        if (len > m.sizeBytes()) {
            throw new UserError(source + " (" + len + " bytes) does not fit volume " + name + " (" + m.sizeBytes() + " bytes)");
        }
        Opened o = open(m, false);
        try (BlockBackend b = o.backend(); InputStream in = Files.newInputStream(source)) {
            byte[] buf = new byte[1 << 20];
            long off = 0;
            while (true) {
                int n = in.readNBytes(buf, 0, buf.length);
                if (n == 0) {
                    break;
                }
                int padded = (n + 511) & ~511; // a partial last sector is zero-padded
                Arrays.fill(buf, n, padded, (byte) 0);
                b.write(off, MemorySegment.ofArray(buf).asSlice(0, padded));
                off += padded;
            }
            b.flush();
            return off;
        }
    }

    /**
     * Closes every export and flushes every open backend (card shutdown). The exports stay in
     * {@code exports.json}: the next start serves them again. The exports close side by side,
     * each waiting a bounded time, so one volume stuck on a dead disk or NBD server neither
     * holds up the others nor the card's exit.
     */
    @Override
    public synchronized void close() {
        List<Thread> closers = new ArrayList<>();
        for (var it = exports.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            it.remove();
            closers.add(Thread.ofPlatform().daemon().name("unexport-" + e.getKey()).start(() -> {
                try {
                    closeExport(e.getKey(), e.getValue());
                } catch (IOException | RuntimeException ex) {
                    LOG.warning("closing export of " + e.getKey() + ": " + ex.getMessage());
                }
            }));
        }
        long deadline = System.nanoTime() + 2 * io.qingtian.sys.BoundedWait.SHUTDOWN.toNanos();
        List<Thread> stuck = new ArrayList<>();
        for (Thread t : closers) {
            if (!io.qingtian.sys.BoundedWait.join(t, java.time.Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
                stuck.add(t);
            }
        }
        if (!stuck.isEmpty()) {
            io.qingtian.sys.BoundedWait.report("closing volume exports: " + stuck.size() + " did not finish; going on", stuck);
        }
    }

    private void closeExport(String name, Exported e) throws IOException {
        try {
            e.export().close();
        } finally {
            java.util.concurrent.CompletableFuture<Void> stopped = e.export().terminated();
            if (stopped.isDone()) {
                e.backend().close(); // flushes (fdatasync) before closing
                LOG.info("unexported volume " + name + " (" + e.export().stats() + ")");
            } else {
                // A request is still running in the backend (the export reported where):
                // closing the backend under it could hand its fd number to another file.
                LOG.warning("unexported volume " + name + " with a request still running in its backend;"
                        + " the backend is closed when that request returns");
                stopped.whenComplete((v, x) -> {
                    try {
                        e.backend().close();
                    } catch (IOException | RuntimeException ex) {
                        LOG.warning("closing the backend of volume " + name + ": " + ex.getMessage());
                    }
                });
            }
        }
    }

    private VolumeMeta load(String name) throws IOException {
        Names.check(name);
        if (!store.exists(name)) {
            throw new UserError("no volume " + name);
        }
        return store.load(name);
    }

    private record Opened(BlockBackend backend, FileBackend file) {}

    /** Builds the backend stack of a volume: file or NBD, then encryption, then QoS on top. */
    private Opened open(VolumeMeta m, boolean readOnly) throws IOException {
        BlockBackend base;
        FileBackend file = null;
        if (m.remote()) {
            NbdBackend nbd;
            try {
                nbd = NbdBackend.connect(m.nbd(), readOnly, m.serial());
            } catch (IOException e) {
                throw new UserError("cannot reach NBD export " + m.nbd() + " of volume " + m.name() + ": " + e.getMessage());
            }
            if (nbd.exportSize() < m.sizeBytes()) {
                nbd.close();
                throw new UserError("NBD export " + m.nbd() + " shrank below volume " + m.name() + "'s size");
            }
            nbd.limitSize(m.sizeBytes());
            base = nbd;
        } else {
            file = FileBackend.open(store.image(m.name()), m.sizeBytes(), readOnly, m.serial());
            base = file;
        }
        BlockBackend top = base;
        if (m.encryption() != null) {
            byte[] key;
            try {
                key = masterKey.unwrap(m.name(), m.encryption().wrappedKey());
            } catch (GeneralSecurityException e) {
                base.close();
                throw new IOException("cannot unwrap the key of volume " + m.name() + " (wrong master key or altered metadata)", e);
            }
            try {
                top = new EncryptedBackend(top, new AesXts(key));
            } finally {
                Arrays.fill(key, (byte) 0);
            }
        }
        VolumeMeta.Qos q = m.qos();
        if (q != null) {
            TokenBucket iops = q.iops() > 0
                    ? new TokenBucket(q.iops(), q.iopsBurst() > 0 ? q.iopsBurst() : Math.max(1, q.iops() / 10), Ticker.SYSTEM)
                    : null;
            TokenBucket bw = q.bandwidth() > 0
                    ? new TokenBucket(q.bandwidth(), q.bandwidthBurst() > 0 ? q.bandwidthBurst() : Math.max(4096, q.bandwidth() / 10), Ticker.SYSTEM)
                    : null;
            top = new QosBackend(top, iops, bw);
        }
        return new Opened(top, file);
    }

    /** Opens a volume's backend stack for a caller that manages it (tests, benchmarks). */
    public synchronized BlockBackend openBackend(String name, boolean readOnly) throws IOException {
        return open(load(name), readOnly).backend();
    }

    static void checkKey(byte[] key) {
        if (key.length != KEY_BYTES) {
            throw new UserError("key must be exactly " + KEY_BYTES + " raw bytes (aes-xts-plain64, --key-size 512), got " + key.length);
        }
        if (Arrays.equals(key, 0, KEY_BYTES / 2, key, KEY_BYTES / 2, KEY_BYTES)) {
            // IEEE 1619-2007 §5.1 and the kernel's xts_verify_key in FIPS mode: Key1 != Key2.
            throw new UserError("key halves must differ (XTS Key1 == Key2 is weak)");
        }
    }

    private static byte[] generateKey() {
        return randomBytes(KEY_BYTES);
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }
}
