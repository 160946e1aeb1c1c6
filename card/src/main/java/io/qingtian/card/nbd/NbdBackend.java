package io.qingtian.card.nbd;

import static io.qingtian.card.nbd.NbdProtocol.*;

import io.qingtian.virtio.blk.BlockBackend;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A volume on a remote NBD server, served to the guest as a local disk. An NBD client:
 * fixed newstyle handshake with NBD_OPT_GO, then READ / WRITE / FLUSH / TRIM / WRITE_ZEROES
 * with simple replies (doc/proto.md).
 *
 * <p>Several requests are in flight at once (one per queue worker): senders serialize only
 * on the socket write; one reader thread matches each reply to its request by cookie and, for
 * a READ, reads the payload straight into the waiting request's buffer (guest memory). If the
 * connection breaks, every pending and later request fails with an IOException; the guest
 * sees I/O errors rather than hanging (reconnection is future work).
 */
public final class NbdBackend implements BlockBackend {
    private static final Logger LOG = Logger.getLogger(NbdBackend.class.getName());

    private final NbdTarget target;
    private final SocketChannel channel;
    private final long exportSize;
    private final int transmissionFlags;
    private final boolean readOnly;
    private final String serial;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong cookies = new AtomicLong(1);
    private final Thread reader;
    private volatile long size;
    private volatile IOException broken;
    private volatile boolean closing;

    /**
     * One request awaiting its reply. A READ's payload goes straight into {@code dst} when the
     * reader thread may touch it (guest memory is shared); otherwise (a thread-confined buffer)
     * into {@code staging}, which the requesting thread copies.
     */
    private record Pending(short type, MemorySegment dst, ByteBuffer staging, CompletableFuture<Void> done) {}

    private NbdBackend(NbdTarget target, SocketChannel channel, long exportSize, int transmissionFlags,
            boolean readOnly, String serial) {
        this.target = target;
        this.channel = channel;
        this.exportSize = exportSize;
        this.size = exportSize - exportSize % 512;
        this.transmissionFlags = transmissionFlags;
        this.readOnly = readOnly || (transmissionFlags & NBD_FLAG_READ_ONLY) != 0;
        this.serial = serial;
        this.reader = Thread.ofPlatform().daemon().name("nbd-reply-" + target.export()).start(this::readReplies);
    }

    /** Connects and negotiates; the volume's capacity is the export's size rounded down to 512. */
    public static NbdBackend connect(NbdTarget target, boolean readOnly, String serial) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.socket().connect(new InetSocketAddress(target.host(), target.port()), 5000);
            ch.socket().setTcpNoDelay(true);
            ByteBuffer hello = readFully(ch, 18);
            if (hello.getLong() != NBDMAGIC || hello.getLong() != IHAVEOPT) {
                throw new IOException("NBD server " + target + " does not speak newstyle NBD");
            }
            int serverFlags = Short.toUnsignedInt(hello.getShort());
            if ((serverFlags & NBD_FLAG_FIXED_NEWSTYLE) == 0) {
                throw new IOException("NBD server " + target + " lacks fixed newstyle negotiation");
            }
            int clientFlags = NBD_FLAG_C_FIXED_NEWSTYLE | (serverFlags & NBD_FLAG_NO_ZEROES);
            writeFully(ch, ByteBuffer.allocate(4).putInt(clientFlags).flip());

            byte[] name = target.export().getBytes(StandardCharsets.UTF_8);
            ByteBuffer opt = ByteBuffer.allocate(16 + 4 + name.length + 2);
            opt.putLong(IHAVEOPT).putInt(NBD_OPT_GO).putInt(4 + name.length + 2)
                    .putInt(name.length).put(name).putShort((short) 0).flip();
            writeFully(ch, opt);

            long exportSize = -1;
            int tflags = 0;
            while (true) {
                ByteBuffer rh = readFully(ch, 20);
                long magic = rh.getLong();
                int option = rh.getInt();
                int type = rh.getInt();
                int len = rh.getInt();
                if (magic != REPLY_MAGIC || option != NBD_OPT_GO || len < 0 || len > 1 << 20) {
                    throw new IOException("NBD server " + target + " sent a malformed option reply");
                }
                ByteBuffer data = readFully(ch, len);
                if ((type & NBD_REP_FLAG_ERROR) != 0) {
                    String msg = StandardCharsets.UTF_8.decode(data).toString();
                    throw new IOException("NBD server " + target + " refused export '" + target.export()
                            + "' (error 0x" + Integer.toHexString(type) + (msg.isEmpty() ? "" : ": " + msg) + ")");
                }
                if (type == NBD_REP_INFO && len >= 2 && data.getShort() == NBD_INFO_EXPORT && len >= 12) {
                    exportSize = data.getLong();
                    tflags = Short.toUnsignedInt(data.getShort());
                } else if (type == NBD_REP_ACK) {
                    break;
                }
            }
            if (exportSize < 0) {
                throw new IOException("NBD server " + target + " did not report the export size");
            }
            return new NbdBackend(target, ch, exportSize, tflags, readOnly, serial);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The export's size in bytes as the server reported it. */
    public long exportSize() {
        return exportSize;
    }

    /** Serves only the first {@code bytes} of the export (a volume smaller than its export). */
    public void limitSize(long bytes) {
        if (bytes > exportSize || bytes % 512 != 0) {
            throw new IllegalArgumentException("size " + bytes + " exceeds export size " + exportSize);
        }
        this.size = bytes;
    }

    @Override
    public long sizeBytes() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        check(offset, dst.byteSize());
        for (long done = 0; done < dst.byteSize(); ) {
            int n = (int) Math.min(MAX_PAYLOAD, dst.byteSize() - done);
            call(NBD_CMD_READ, (short) 0, offset + done, n, null, dst.asSlice(done, n));
            done += n;
        }
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        checkWritable();
        check(offset, src.byteSize());
        for (long done = 0; done < src.byteSize(); ) {
            int n = (int) Math.min(MAX_PAYLOAD, src.byteSize() - done);
            call(NBD_CMD_WRITE, (short) 0, offset + done, n, src.asSlice(done, n), null);
            done += n;
        }
    }

    @Override
    public void flush() throws IOException {
        // Without SEND_FLUSH the server has no write cache to flush (proto.md, NBD_FLAG_SEND_FLUSH).
        if (!readOnly && (transmissionFlags & NBD_FLAG_SEND_FLUSH) != 0) {
            call(NBD_CMD_FLUSH, (short) 0, 0, 0, null, null);
        }
    }

    /**
     * NBD_CMD_TRIM: a hint; the content of the range is unspecified afterwards (proto.md), so
     * {@link #discard} does not use it (virtio-blk guests expect zeroes back).
     */
    public void trim(long offset, long length) throws IOException {
        checkWritable();
        check(offset, length);
        if ((transmissionFlags & NBD_FLAG_SEND_TRIM) == 0) {
            return;
        }
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(MAX_RANGE, length - done);
            call(NBD_CMD_TRIM, (short) 0, offset + done, n, null, null);
            done += n;
        }
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        writeZeroes(offset, length, true);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws IOException {
        checkWritable();
        check(offset, length);
        if ((transmissionFlags & NBD_FLAG_SEND_WRITE_ZEROES) == 0) {
            MemorySegment zero = MemorySegment.ofArray(new byte[(int) Math.min(length, 1 << 20)]);
            for (long done = 0; done < length; ) {
                long n = Math.min(zero.byteSize(), length - done);
                write(offset + done, zero.asSlice(0, n));
                done += n;
            }
            return;
        }
        short flags = unmap ? 0 : NBD_CMD_FLAG_NO_HOLE;
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(MAX_RANGE, length - done);
            call(NBD_CMD_WRITE_ZEROES, flags, offset + done, n, null, null);
            done += n;
        }
    }

    @Override
    public String serial() {
        return serial;
    }

    @Override
    public void close() throws IOException {
        if (broken == null) {
            try {
                flush();
                closing = true; // the server hangs up after NBD_CMD_DISC: that EOF is expected
                sendLock.lock();
                try {
                    ByteBuffer h = header(NBD_CMD_DISC, (short) 0, 0, 0, 0);
                    writeFully(channel, h);
                } finally {
                    sendLock.unlock();
                }
            } catch (IOException e) {
                LOG.log(Level.FINE, "NBD disconnect from " + target + " failed", e);
            }
        }
        broken = new IOException("NBD volume " + target + " is closed");
        channel.close();
        try {
            reader.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void call(short type, short flags, long offset, int length, MemorySegment payload, MemorySegment dst)
            throws IOException {
        IOException b = broken;
        if (b != null) {
            throw new IOException(b.getMessage(), b);
        }
        long cookie = cookies.getAndIncrement();
        ByteBuffer staging = dst != null && !dst.isAccessibleBy(reader) ? ByteBuffer.allocate(length) : null;
        Pending p = new Pending(type, dst, staging, new CompletableFuture<>());
        pending.put(cookie, p);
        sendLock.lock();
        try {
            writeFully(channel, header(type, flags, cookie, offset, length));
            if (payload != null) {
                writeFully(channel, payload.asByteBuffer());
            }
        } catch (IOException e) {
            pending.remove(cookie);
            fail(new IOException("NBD connection to " + target + " failed: " + e.getMessage(), e));
            throw e;
        } finally {
            sendLock.unlock();
        }
        try {
            p.done().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting for NBD reply");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw new IOException(io.getMessage(), io);
            }
            throw new IOException(e.getCause());
        }
        if (staging != null) {
            MemorySegment.copy(MemorySegment.ofBuffer(staging.flip()), 0, dst, 0, length);
        }
    }

    private void readReplies() {
        ByteBuffer h = ByteBuffer.allocate(REPLY_HEADER);
        try {
            while (true) {
                h.clear();
                readInto(channel, h);
                h.flip();
                int magic = h.getInt();
                int error = h.getInt();
                long cookie = h.getLong();
                if (magic != SIMPLE_REPLY_MAGIC) {
                    throw new IOException("bad reply magic 0x" + Integer.toHexString(magic));
                }
                Pending p = pending.remove(cookie);
                if (p == null) {
                    throw new IOException("reply for unknown cookie " + cookie);
                }
                if (error != 0) {
                    // proto.md: on error the server sends no read payload (simple replies).
                    p.done().completeExceptionally(new IOException("NBD " + name(p.type()) + " on " + target
                            + " failed: errno " + error));
                    continue;
                }
                if (p.type() == NBD_CMD_READ) {
                    readInto(channel, p.staging() != null ? p.staging() : p.dst().asByteBuffer());
                }
                p.done().complete(null);
            }
        } catch (IOException | RuntimeException e) {
            fail(broken != null ? broken : new IOException("NBD connection to " + target + " lost: " + e.getMessage(), e));
        }
    }

    private void fail(IOException e) {
        if (broken == null) {
            broken = e;
            if (!closing) {
                LOG.warning(e.getMessage());
            }
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // already failing
        }
        pending.values().forEach(p -> p.done().completeExceptionally(e));
        pending.clear();
    }

    private static String name(short type) {
        return switch (type) {
            case NBD_CMD_READ -> "READ";
            case NBD_CMD_WRITE -> "WRITE";
            case NBD_CMD_FLUSH -> "FLUSH";
            case NBD_CMD_TRIM -> "TRIM";
            case NBD_CMD_WRITE_ZEROES -> "WRITE_ZEROES";
            default -> "command " + type;
        };
    }

    private static ByteBuffer header(short type, short flags, long cookie, long offset, int length) {
        return ByteBuffer.allocate(REQUEST_HEADER).putInt(REQUEST_MAGIC).putShort(flags).putShort(type)
                .putLong(cookie).putLong(offset).putInt(length).flip();
    }

    private void check(long offset, long length) throws IOException {
        if (offset < 0 || length < 0 || offset % 512 != 0 || length % 512 != 0 || offset > size || length > size - offset) {
            throw new IOException("request outside the volume: offset " + offset + " length " + length);
        }
    }

    private void checkWritable() throws IOException {
        if (readOnly) {
            throw new IOException("NBD volume " + target + " is read-only");
        }
    }

    private static ByteBuffer readFully(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readInto(ch, b);
        return b.flip();
    }

    private static void readInto(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("connection closed by the NBD server");
            }
        }
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    @Override
    public String toString() {
        return "nbd:" + target;
    }
}
