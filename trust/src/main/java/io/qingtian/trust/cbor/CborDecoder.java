package io.qingtian.trust.cbor;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A strict decoder for hostile input (attestation documents come from the network). It accepts
 * exactly one well-formed item (RFC 8949 §5.3.1) and refuses, with a message naming the offset:
 * <ul>
 *   <li>indefinite lengths and break codes (§3.2) — ours never use them; {@link #decodeLenient}
 *       accepts indefinite-length arrays and maps only (recent Nitro Secure Module documents
 *       encode their payload map that way), still bounded by the input and the depth limit;</li>
 *   <li>non-preferred (longer than necessary) arguments (§4.2.1), so one value has one encoding;</li>
 *   <li>floats, undefined and unassigned simple values;</li>
 *   <li>integers outside the long range, invalid UTF-8 text (§5.3.1), duplicate map keys (§5.6),
 *       map keys other than integers and strings;</li>
 *   <li>nesting deeper than {@link #maxDepth}, lengths beyond the remaining input (checked before
 *       anything is allocated), input beyond {@link #maxInput}, and trailing bytes.</li>
 * </ul>
 */
public final class CborDecoder {
    public static final int DEFAULT_MAX_DEPTH = 16;
    public static final int DEFAULT_MAX_INPUT = 1 << 20;

    private final byte[] in;
    private final int maxDepth;
    private final boolean indefiniteContainers;
    private int pos;

    private CborDecoder(byte[] in, int maxDepth, boolean indefiniteContainers) {
        this.in = in;
        this.maxDepth = maxDepth;
        this.indefiniteContainers = indefiniteContainers;
    }

    public static CborItem decode(byte[] input) throws CborException {
        return decode(input, DEFAULT_MAX_DEPTH, DEFAULT_MAX_INPUT);
    }

    public static CborItem decode(byte[] input, int maxDepth, int maxInput) throws CborException {
        return decode(input, maxDepth, maxInput, false);
    }

    /** As {@link #decode(byte[], int, int)}, but indefinite-length arrays and maps are accepted. */
    public static CborItem decodeLenient(byte[] input, int maxDepth, int maxInput) throws CborException {
        return decode(input, maxDepth, maxInput, true);
    }

    private static CborItem decode(byte[] input, int maxDepth, int maxInput, boolean indefinite) throws CborException {
        if (input.length == 0) {
            throw new CborException("CBOR: empty input");
        }
        if (input.length > maxInput) {
            throw new CborException("CBOR: input of " + input.length + " bytes exceeds the limit of " + maxInput);
        }
        CborDecoder d = new CborDecoder(input, maxDepth, indefinite);
        CborItem item = d.item(0);
        if (d.pos != input.length) {
            throw new CborException("CBOR: " + (input.length - d.pos) + " trailing bytes after the item at offset " + d.pos);
        }
        return item;
    }

    private CborItem item(int depth) throws CborException {
        if (depth > maxDepth) {
            throw error("nesting deeper than " + maxDepth);
        }
        int start = pos;
        int ib = u8();
        int major = ib >>> 5;
        int ai = ib & 0x1f;
        if (major == 7) {
            return simple(ai, start);
        }
        if (ai == 31 && indefiniteContainers && (major == 4 || major == 5)) {
            return indefinite(major, depth, start);
        }
        long arg = argument(ai, start);
        return switch (major) {
            case 0 -> {
                if (arg < 0) {
                    throw errorAt(start, "unsigned integer does not fit 63 bits");
                }
                yield new CborItem.Int(arg);
            }
            case 1 -> {
                if (arg < 0) {
                    throw errorAt(start, "negative integer does not fit 64 bits");
                }
                yield new CborItem.Int(-1 - arg);
            }
            case 2 -> new CborItem.Bytes(take(arg, start));
            case 3 -> new CborItem.Text(utf8(take(arg, start), start));
            case 4 -> {
                // Each element takes at least one byte: a count beyond the remaining input is a lie.
                checkCount(arg, 1, start);
                List<CborItem> items = new ArrayList<>((int) arg);
                for (long i = 0; i < arg; i++) {
                    items.add(item(depth + 1));
                }
                yield new CborItem.Array(items);
            }
            case 5 -> {
                checkCount(arg, 2, start);
                List<Map.Entry<CborItem, CborItem>> entries = new ArrayList<>((int) arg);
                Set<CborItem> seen = new HashSet<>();
                for (long i = 0; i < arg; i++) {
                    int keyAt = pos;
                    CborItem key = item(depth + 1);
                    if (!(key instanceof CborItem.Int || key instanceof CborItem.Text || key instanceof CborItem.Bytes)) {
                        throw errorAt(keyAt, "map key must be an integer or a string");
                    }
                    if (!seen.add(key)) {
                        throw errorAt(keyAt, "duplicate map key " + describe(key));
                    }
                    entries.add(Map.entry(key, item(depth + 1)));
                }
                yield new CborItem.CborMap(entries);
            }
            case 6 -> new CborItem.Tag(arg, item(depth + 1));
            default -> throw new AssertionError(major);
        };
    }

    /** §3.2.2: items until the break byte 0xff. Every item takes at least one byte, so the loop is bounded by the input. */
    private CborItem indefinite(int major, int depth, int start) throws CborException {
        List<CborItem> items = new ArrayList<>();
        List<Map.Entry<CborItem, CborItem>> entries = new ArrayList<>();
        Set<CborItem> seen = new HashSet<>();
        while (true) {
            if (pos >= in.length) {
                throw errorAt(start, "indefinite-length item has no break");
            }
            if ((in[pos] & 0xff) == 0xff) {
                pos++;
                return major == 4 ? new CborItem.Array(items) : new CborItem.CborMap(entries);
            }
            if (major == 4) {
                items.add(item(depth + 1));
                continue;
            }
            int keyAt = pos;
            CborItem key = item(depth + 1);
            if (!(key instanceof CborItem.Int || key instanceof CborItem.Text || key instanceof CborItem.Bytes)) {
                throw errorAt(keyAt, "map key must be an integer or a string");
            }
            if (!seen.add(key)) {
                throw errorAt(keyAt, "duplicate map key " + describe(key));
            }
            if (pos < in.length && (in[pos] & 0xff) == 0xff) {
                throw errorAt(pos, "break between a map key and its value");
            }
            entries.add(Map.entry(key, item(depth + 1)));
        }
    }

    private CborItem simple(int ai, int start) throws CborException {
        return switch (ai) {
            case 20 -> CborItem.Simple.FALSE;
            case 21 -> CborItem.Simple.TRUE;
            case 22 -> CborItem.Simple.NULL;
            case 23 -> throw errorAt(start, "'undefined' is not accepted");
            case 25, 26, 27 -> throw errorAt(start, "floating-point values are not accepted");
            case 31 -> throw errorAt(start, "unexpected break code");
            default -> throw errorAt(start, "simple value " + ai + " is not accepted");
        };
    }

    /** Reads the argument and insists on the preferred (shortest) form. Returns it as unsigned in a long. */
    private long argument(int ai, int start) throws CborException {
        if (ai < 24) {
            return ai;
        }
        long v;
        long min;
        switch (ai) {
            case 24 -> { v = u8(); min = 24; }
            case 25 -> { v = (long) u8() << 8 | u8(); min = 0x100; }
            case 26 -> { v = 0; for (int i = 0; i < 4; i++) v = v << 8 | u8(); min = 0x1_0000; }
            case 27 -> { v = 0; for (int i = 0; i < 8; i++) v = v << 8 | u8(); min = 0x1_0000_0000L; }
            case 31 -> throw errorAt(start, "indefinite-length items are not accepted");
            default -> throw errorAt(start, "reserved additional information " + ai);
        }
        if (Long.compareUnsigned(v, min) < 0) {
            throw errorAt(start, "argument " + Long.toUnsignedString(v) + " not in its shortest form");
        }
        return v;
    }

    private void checkCount(long count, int minBytesEach, int start) throws CborException {
        long remaining = in.length - pos;
        if (count < 0 || count > remaining / minBytesEach) {
            throw errorAt(start, "declares " + Long.toUnsignedString(count) + " elements but only " + remaining + " bytes remain");
        }
    }

    private byte[] take(long len, int start) throws CborException {
        if (len < 0 || len > in.length - pos) {
            throw errorAt(start, "string of " + Long.toUnsignedString(len) + " bytes runs past the end of input");
        }
        byte[] b = new byte[(int) len];
        System.arraycopy(in, pos, b, 0, (int) len);
        pos += (int) len;
        return b;
    }

    private String utf8(byte[] b, int start) throws CborException {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw errorAt(start, "text string is not valid UTF-8");
        }
    }

    private int u8() throws CborException {
        if (pos >= in.length) {
            throw error("truncated input");
        }
        return in[pos++] & 0xff;
    }

    private static String describe(CborItem key) {
        return switch (key) {
            case CborItem.Int i -> Long.toString(i.value());
            case CborItem.Text t -> "\"" + (t.value().length() > 32 ? t.value().substring(0, 32) + "..." : t.value()) + "\"";
            default -> key.toString();
        };
    }

    private CborException error(String what) {
        return errorAt(pos, what);
    }

    private static CborException errorAt(int offset, String what) {
        return new CborException("CBOR: " + what + " (at offset " + offset + ")");
    }
}
