package io.qingtian.hypervisor.snapshot;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The snapshot state file: a versioned, self-describing container of checksummed sections.
 *
 * <pre>
 * file    := magic "QTSNAP\r\n" (8 bytes; \r\n catches text-mode mangling, as PNG's does)
 *            u32 version (= {@link #VERSION})  u32 section-count  section*
 * section := tag (4 ASCII bytes)  u64 payload-length  u32 CRC-32C(payload)  payload
 * payload := u16 entry-count  entry*          (every section is a list of named blobs)
 * entry   := u16 name-length  name (UTF-8)  u32 blob-length  blob
 * </pre>
 * All integers big-endian. Tags: {@code META} (one entry "json": the VM's description, see
 * {@link SnapshotMeta}), {@code VMST} (irqchips, PIT, clock), {@code VCPU} (one per vCPU, in
 * id order), {@code DEVS} (version 2: one entry per device, a versioned {@link DeviceState}). Readers reject an unknown version, a bad magic, a CRC mismatch or a truncated
 * file with a message that says which; unknown tags are an error too (a newer writer's state
 * that this reader would silently drop).
 */
public final class SnapshotFile {
    static final byte[] MAGIC = "QTSNAP\r\n".getBytes(StandardCharsets.US_ASCII);
    /** 2 added the DEVS section (device state records, {@link DeviceState}) and META's device list. */
    public static final int VERSION = 2;
    /** The oldest version this reader accepts: a version-1 file restores with devices at reset state. */
    public static final int MIN_VERSION = 1;
    /** Upper bound for one section: far above any real one (a vCPU is ~6 KiB), far below memory exhaustion. */
    static final long MAX_SECTION = 64L << 20;

    /** One section: a tag and its named blobs, in order. */
    public record Section(String tag, Map<String, byte[]> entries) {
        public Section {
            if (tag.length() != 4) {
                throw new IllegalArgumentException("section tags are 4 characters: " + tag);
            }
            entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        }

        /** The named blob, or a {@link SnapshotException} naming what is missing. */
        public byte[] require(String name) {
            byte[] b = entries.get(name);
            if (b == null) {
                throw new SnapshotException("snapshot section " + tag + " has no '" + name + "' entry");
            }
            return b;
        }
    }

    private SnapshotFile() {}

    public static void write(OutputStream sink, List<Section> sections) throws IOException {
        DataOutputStream out = new DataOutputStream(sink);
        out.write(MAGIC);
        out.writeInt(VERSION);
        out.writeInt(sections.size());
        for (Section s : sections) {
            byte[] payload = encode(s.entries());
            CRC32C crc = new CRC32C();
            crc.update(payload);
            out.write(s.tag().getBytes(StandardCharsets.US_ASCII));
            out.writeLong(payload.length);
            out.writeInt((int) crc.getValue());
            out.write(payload);
        }
        out.flush();
    }

    public static List<Section> read(InputStream source) {
        DataInputStream in = new DataInputStream(source);
        try {
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new SnapshotException("not a QingTian snapshot (bad magic)");
            }
            int version = in.readInt();
            if (version < MIN_VERSION || version > VERSION) {
                throw new SnapshotException("snapshot format version " + version
                        + " is not supported (this hypervisor reads versions " + MIN_VERSION + " to " + VERSION + ")");
            }
            int count = in.readInt();
            if (count < 0 || count > 10_000) {
                throw new SnapshotException("corrupt snapshot: " + count + " sections");
            }
            List<Section> out = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                byte[] tagBytes = new byte[4];
                in.readFully(tagBytes);
                String tag = new String(tagBytes, StandardCharsets.US_ASCII);
                long length = in.readLong();
                int expected = in.readInt();
                if (length < 0 || length > MAX_SECTION) {
                    throw new SnapshotException("corrupt snapshot: section " + i + " (" + printable(tag)
                            + ") claims " + length + " bytes");
                }
                byte[] payload = new byte[(int) length];
                in.readFully(payload);
                CRC32C crc = new CRC32C();
                crc.update(payload);
                if ((int) crc.getValue() != expected) {
                    throw new SnapshotException("corrupt snapshot: CRC mismatch in section " + i + " (" + printable(tag) + ")");
                }
                out.add(new Section(tag, decode(tag, payload)));
            }
            if (in.read() != -1) {
                throw new SnapshotException("corrupt snapshot: bytes after the last section");
            }
            return out;
        } catch (EOFException e) {
            throw new SnapshotException("corrupt snapshot: the file is truncated");
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot: " + e.getMessage(), e);
        }
    }

    private static byte[] encode(Map<String, byte[]> entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeShort(entries.size());
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
            byte[] name = e.getKey().getBytes(StandardCharsets.UTF_8);
            out.writeShort(name.length);
            out.write(name);
            out.writeInt(e.getValue().length);
            out.write(e.getValue());
        }
        return bytes.toByteArray();
    }

    private static Map<String, byte[]> decode(String tag, byte[] payload) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(payload));
        Map<String, byte[]> out = new LinkedHashMap<>();
        try {
            int n = in.readUnsignedShort();
            for (int i = 0; i < n; i++) {
                byte[] name = new byte[in.readUnsignedShort()];
                in.readFully(name);
                int len = in.readInt();
                if (len < 0 || len > in.available()) {
                    throw new SnapshotException("corrupt snapshot: entry " + i + " of section " + tag + " overruns it");
                }
                byte[] blob = new byte[len];
                in.readFully(blob);
                out.put(new String(name, StandardCharsets.UTF_8), blob);
            }
            if (in.available() != 0) {
                throw new SnapshotException("corrupt snapshot: trailing bytes in section " + tag);
            }
        } catch (EOFException e) {
            throw new SnapshotException("corrupt snapshot: section " + tag + " is truncated");
        }
        return out;
    }

    private static String printable(String tag) {
        return tag.chars().allMatch(c -> c >= 0x20 && c < 0x7f) ? tag : "?";
    }
}
