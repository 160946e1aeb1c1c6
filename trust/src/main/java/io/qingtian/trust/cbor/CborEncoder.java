package io.qingtian.trust.cbor;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Deterministic encoding (RFC 8949 §4.2.1): shortest argument forms, definite lengths only, map
 * keys sorted by the bytewise order of their encodings. The same value always yields the same
 * bytes, which is what a signature over a payload needs.
 */
public final class CborEncoder {
    private CborEncoder() {}

    public static byte[] encode(CborItem item) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, item);
        return out.toByteArray();
    }

    private static void write(ByteArrayOutputStream out, CborItem item) {
        switch (item) {
            case CborItem.Int i -> {
                if (i.value() >= 0) {
                    head(out, 0, i.value());
                } else {
                    head(out, 1, -1 - i.value()); // §3.1: major 1 carries -1 - n
                }
            }
            case CborItem.Bytes b -> {
                byte[] v = b.value();
                head(out, 2, v.length);
                out.writeBytes(v);
            }
            case CborItem.Text t -> {
                byte[] v = t.value().getBytes(StandardCharsets.UTF_8);
                head(out, 3, v.length);
                out.writeBytes(v);
            }
            case CborItem.Array a -> {
                head(out, 4, a.items().size());
                for (CborItem e : a.items()) {
                    write(out, e);
                }
            }
            case CborItem.CborMap m -> {
                List<byte[][]> pairs = new ArrayList<>(m.size());
                for (Map.Entry<CborItem, CborItem> e : m.entries()) {
                    pairs.add(new byte[][] {encode(e.getKey()), encode(e.getValue())});
                }
                pairs.sort((x, y) -> Arrays.compareUnsigned(x[0], y[0]));
                for (int i = 1; i < pairs.size(); i++) {
                    if (Arrays.equals(pairs.get(i - 1)[0], pairs.get(i)[0])) {
                        throw new IllegalArgumentException("duplicate map key");
                    }
                }
                head(out, 5, pairs.size());
                for (byte[][] p : pairs) {
                    out.writeBytes(p[0]);
                    out.writeBytes(p[1]);
                }
            }
            case CborItem.Tag t -> {
                head(out, 6, t.tag());
                write(out, t.content());
            }
            case CborItem.Simple s -> out.write(switch (s) {
                case FALSE -> 0xf4;
                case TRUE -> 0xf5;
                case NULL -> 0xf6;
            });
        }
    }

    /** The initial byte and argument in the shortest form (§3, §4.2.1). {@code arg} is unsigned. */
    private static void head(ByteArrayOutputStream out, int major, long arg) {
        int mt = major << 5;
        if (arg >= 0 && arg < 24) {
            out.write(mt | (int) arg);
        } else if (arg >= 0 && arg <= 0xff) {
            out.write(mt | 24);
            out.write((int) arg);
        } else if (arg >= 0 && arg <= 0xffff) {
            out.write(mt | 25);
            out.write((int) (arg >>> 8));
            out.write((int) arg);
        } else if (arg >= 0 && arg <= 0xffff_ffffL) {
            out.write(mt | 26);
            for (int s = 24; s >= 0; s -= 8) {
                out.write((int) (arg >>> s));
            }
        } else {
            out.write(mt | 27);
            for (int s = 56; s >= 0; s -= 8) {
                out.write((int) (arg >>> s));
            }
        }
    }
}
