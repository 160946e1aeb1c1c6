package io.qingtian.trust.cbor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The CBOR data model (RFC 8949 §3) restricted to what attestation documents and COSE use:
 * integers that fit a Java long, byte and text strings, arrays, maps, tags, and the simple
 * values false/true/null. Floats and undefined are not part of it.
 */
public sealed interface CborItem {

    /** Major types 0 and 1 (RFC 8949 §3.1); the value range is that of a long. */
    record Int(long value) implements CborItem {}

    /** Major type 2. */
    record Bytes(byte[] value) implements CborItem {
        public Bytes {
            value = value.clone();
        }

        @Override
        public byte[] value() {
            return value.clone();
        }

        public int length() {
            return value.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Bytes b && Arrays.equals(value, b.value);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return "Bytes[" + value.length + "]";
        }
    }

    /** Major type 3, always valid UTF-8. */
    record Text(String value) implements CborItem {}

    /** Major type 4. */
    record Array(List<CborItem> items) implements CborItem {
        public Array {
            items = List.copyOf(items);
        }
    }

    /** Major type 5; entries keep their order on decode, the encoder sorts them (§4.2.1). */
    record CborMap(List<Map.Entry<CborItem, CborItem>> entries) implements CborItem {
        public CborMap {
            entries = List.copyOf(entries);
        }

        /** The value under {@code key}, or null when absent. */
        public CborItem get(CborItem key) {
            for (Map.Entry<CborItem, CborItem> e : entries) {
                if (e.getKey().equals(key)) {
                    return e.getValue();
                }
            }
            return null;
        }

        public CborItem get(String textKey) {
            return get(new Text(textKey));
        }

        public CborItem get(long intKey) {
            return get(new Int(intKey));
        }

        public int size() {
            return entries.size();
        }

        /** Builds a map in insertion order. */
        public static Builder builder() {
            return new Builder();
        }

        public static final class Builder {
            private final List<Map.Entry<CborItem, CborItem>> entries = new ArrayList<>();

            public Builder put(CborItem key, CborItem value) {
                entries.add(Map.entry(key, value));
                return this;
            }

            public Builder put(String key, CborItem value) {
                return put(new Text(key), value);
            }

            public Builder put(long key, CborItem value) {
                return put(new Int(key), value);
            }

            public CborMap build() {
                return new CborMap(entries);
            }
        }
    }

    /** Major type 6. */
    record Tag(long tag, CborItem content) implements CborItem {}

    /** Major type 7 simple values 20..22. */
    enum Simple implements CborItem { FALSE, TRUE, NULL }

    static Bytes bytes(byte[] b) {
        return new Bytes(b);
    }

    static Text text(String s) {
        return new Text(s);
    }

    static Int integer(long v) {
        return new Int(v);
    }
}
