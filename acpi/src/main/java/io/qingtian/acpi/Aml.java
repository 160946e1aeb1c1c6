package io.qingtian.acpi;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * One encoded AML term (a data object, a name reference, an expression), plus the
 * encodings every term is built from: NameString, PkgLength and integer constants.
 * ACPI 6.4 section 20 ("ACPI Machine Language Specification") is the reference; the
 * section numbers below point into it.
 *
 * <p>Statements that open a scope (Scope, Device, Method, If) live in {@link AmlWriter};
 * the values they contain are {@code Aml} terms. Immutable.
 *
 * <p>Errors here are programming errors (a malformed name in our own code), so they are
 * {@link IllegalArgumentException}s; guest input never reaches this class.
 */
public final class Aml {
    // 20.2.3 Data Objects Encoding
    static final int ZERO_OP = 0x00;
    static final int ONE_OP = 0x01;
    static final int ONES_OP = 0xFF;
    static final int BYTE_PREFIX = 0x0A;
    static final int WORD_PREFIX = 0x0B;
    static final int DWORD_PREFIX = 0x0C;
    static final int STRING_PREFIX = 0x0D;
    static final int QWORD_PREFIX = 0x0E;
    static final int BUFFER_OP = 0x11;
    static final int PACKAGE_OP = 0x12;
    // 20.2.2 Name Objects Encoding
    static final int ROOT_CHAR = '\\';
    static final int PARENT_PREFIX_CHAR = '^';
    static final int DUAL_NAME_PREFIX = 0x2E;
    static final int MULTI_NAME_PREFIX = 0x2F;
    static final int NULL_NAME = 0x00;
    // 20.2.6 Arg/Local objects, 20.2.5.4 expression opcodes
    static final int LOCAL0_OP = 0x60;
    static final int ARG0_OP = 0x68;
    static final int LAND_OP = 0x90;
    static final int LOR_OP = 0x91;
    static final int LNOT_OP = 0x92;
    static final int LEQUAL_OP = 0x93;
    static final int LGREATER_OP = 0x94;
    static final int LLESS_OP = 0x95;
    static final int AND_OP = 0x7B;
    static final int OR_OP = 0x7D;

    /** The largest value a PkgLength can encode (20.2.4: 28 bits). */
    public static final int MAX_PKG_LENGTH = (1 << 28) - 1;

    public static final Aml ZERO = new Aml(new byte[] {ZERO_OP});
    public static final Aml ONE = new Aml(new byte[] {ONE_OP});
    /** All bits set (64-bit in a revision 2+ DSDT). */
    public static final Aml ONES = new Aml(new byte[] {(byte) ONES_OP});

    private final byte[] bytes;

    private Aml(byte[] bytes) {
        this.bytes = bytes;
    }

    /** A copy of the encoded bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    public int length() {
        return bytes.length;
    }

    void appendTo(ByteArrayOutputStream out) {
        out.write(bytes, 0, bytes.length);
    }

    /** Wraps bytes that are already valid AML (e.g. produced by another encoder). */
    public static Aml raw(byte[] encoded) {
        return new Aml(encoded.clone());
    }

    // ---------------------------------------------------------------- integers

    /**
     * The shortest encoding of an unsigned integer: ZeroOp, OneOp, or a Byte/Word/DWord/QWord
     * constant (20.2.3 ComputationalData). Negative values are 64-bit unsigned quantities.
     */
    public static Aml integer(long value) {
        if (value == 0) {
            return ZERO;
        }
        if (value == 1) {
            return ONE;
        }
        if ((value & ~0xFFL) == 0) {
            return byteConst((int) value);
        }
        if ((value & ~0xFFFFL) == 0) {
            return wordConst((int) value);
        }
        if ((value & ~0xFFFF_FFFFL) == 0) {
            return dwordConst(value);
        }
        return qwordConst(value);
    }

    /** ByteConst: BytePrefix ByteData, whatever the value (no ZeroOp/OneOp shortening). */
    public static Aml byteConst(int value) {
        checkRange(value, 0xFF, "byte");
        return new Aml(new byte[] {BYTE_PREFIX, (byte) value});
    }

    public static Aml wordConst(int value) {
        checkRange(value, 0xFFFF, "word");
        return new Aml(new byte[] {WORD_PREFIX, (byte) value, (byte) (value >>> 8)});
    }

    public static Aml dwordConst(long value) {
        checkRange(value, 0xFFFF_FFFFL, "dword");
        byte[] b = new byte[5];
        b[0] = DWORD_PREFIX;
        putLe(b, 1, value, 4);
        return new Aml(b);
    }

    public static Aml qwordConst(long value) {
        byte[] b = new byte[9];
        b[0] = QWORD_PREFIX;
        putLe(b, 1, value, 8);
        return new Aml(b);
    }

    private static void checkRange(long value, long max, String what) {
        if (value < 0 || value > max) {
            throw new IllegalArgumentException(what + " constant out of range: " + value);
        }
    }

    // ---------------------------------------------------------------- strings, names

    /** String: StringPrefix AsciiCharList NullChar; ASCII 0x01-0x7F only. */
    public static Aml string(String s) {
        byte[] b = new byte[s.length() + 2];
        b[0] = STRING_PREFIX;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x01 || c > 0x7F) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL: " + s);
            }
            b[i + 1] = (byte) c;
        }
        return new Aml(b);
    }

    /** A reference to a named object (NameString as a term, e.g. in a Package or as a call). */
    public static Aml path(String path) {
        return new Aml(nameString(path));
    }

    /**
     * A method invocation (20.2.5 MethodInvocation): the NameString followed by the
     * arguments. The caller must pass exactly the method's ArgumentCount.
     */
    public static Aml call(String path, Aml... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(nameString(path));
        for (Aml a : args) {
            a.appendTo(out);
        }
        return new Aml(out.toByteArray());
    }

    /**
     * Encodes a name path (20.2.2 NameString): an optional root {@code \} or parent
     * {@code ^} prefixes, then dot-separated segments. Segments shorter than four
     * characters are padded with '_', as ASL does ("RTC" is "RTC_"). {@code "\\"} alone is
     * the root (RootChar NullName).
     */
    public static byte[] nameString(String path) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        if (path.startsWith("\\")) {
            out.write(ROOT_CHAR);
            i = 1;
        } else {
            while (i < path.length() && path.charAt(i) == '^') {
                out.write(PARENT_PREFIX_CHAR);
                i++;
            }
        }
        String rest = path.substring(i);
        if (rest.isEmpty()) {
            if (i == 0) {
                throw new IllegalArgumentException("empty AML name");
            }
            out.write(NULL_NAME);
            return out.toByteArray();
        }
        String[] segs = rest.split("\\.", -1);
        if (segs.length > 255) {
            throw new IllegalArgumentException("AML name path has too many segments: " + path);
        }
        if (segs.length == 2) {
            out.write(DUAL_NAME_PREFIX);
        } else if (segs.length > 2) {
            out.write(MULTI_NAME_PREFIX);
            out.write(segs.length);
        }
        for (String seg : segs) {
            out.writeBytes(nameSeg(seg, path));
        }
        return out.toByteArray();
    }

    /** NameSeg: LeadNameChar (A-Z or _) then three NameChars (A-Z, 0-9, _), '_'-padded. */
    static byte[] nameSeg(String seg, String context) {
        if (seg.isEmpty() || seg.length() > 4) {
            throw new IllegalArgumentException("AML name segment must have 1-4 characters: '"
                    + seg + "' in " + context);
        }
        byte[] b = {'_', '_', '_', '_'};
        for (int j = 0; j < seg.length(); j++) {
            char c = seg.charAt(j);
            boolean ok = (c >= 'A' && c <= 'Z') || c == '_' || (j > 0 && c >= '0' && c <= '9');
            if (!ok) {
                throw new IllegalArgumentException("invalid AML name character '" + c + "' in " + context);
            }
            b[j] = (byte) c;
        }
        return b;
    }

    /**
     * A compressed EISA id (e.g. "PNP0501") as a DWordConst, exactly as ASL's EISAID()
     * macro: three letters of five bits each and four hex digits, stored big-endian
     * (ACPI 6.4 section 6.1.5 _HID).
     */
    public static Aml eisaId(String id) {
        return dwordConst(eisaIdValue(id));
    }

    /** The 32-bit value of {@link #eisaId} (as it sits in memory, read little-endian). */
    public static long eisaIdValue(String id) {
        if (id.length() != 7) {
            throw new IllegalArgumentException("EISA id must be 3 letters and 4 hex digits: " + id);
        }
        long v = 0;
        for (int i = 0; i < 3; i++) {
            char c = id.charAt(i);
            if (c < 'A' || c > 'Z') {
                throw new IllegalArgumentException("EISA id vendor must be upper-case letters: " + id);
            }
            v = (v << 5) | (c - 0x40);
        }
        for (int i = 3; i < 7; i++) {
            int d = Character.digit(id.charAt(i), 16);
            if (d < 0 || Character.isLowerCase(id.charAt(i))) {
                throw new IllegalArgumentException("EISA id product must be hex digits: " + id);
            }
            v = (v << 4) | d;
        }
        return Integer.toUnsignedLong(Integer.reverseBytes((int) v));
    }

    // ---------------------------------------------------------------- compound data

    /** Package (20.2.5.4 DefPackage): PackageOp PkgLength NumElements PackageElementList. */
    public static Aml pkg(Aml... elements) {
        if (elements.length > 255) {
            throw new IllegalArgumentException("Package has more than 255 elements");
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(elements.length);
        for (Aml e : elements) {
            e.appendTo(body);
        }
        return new Aml(withPkgLength(PACKAGE_OP, -1, body.toByteArray()));
    }

    /** Buffer (20.2.5.4 DefBuffer): BufferOp PkgLength BufferSize ByteList. */
    public static Aml buffer(byte[] data) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        integer(data.length).appendTo(body);
        body.writeBytes(data);
        return new Aml(withPkgLength(BUFFER_OP, -1, body.toByteArray()));
    }

    // ---------------------------------------------------------------- expressions

    public static Aml arg(int n) {
        if (n < 0 || n > 6) {
            throw new IllegalArgumentException("ArgN is Arg0-Arg6: " + n);
        }
        return new Aml(new byte[] {(byte) (ARG0_OP + n)});
    }

    public static Aml local(int n) {
        if (n < 0 || n > 7) {
            throw new IllegalArgumentException("LocalN is Local0-Local7: " + n);
        }
        return new Aml(new byte[] {(byte) (LOCAL0_OP + n)});
    }

    public static Aml lEqual(Aml a, Aml b) {
        return binary(LEQUAL_OP, a, b);
    }

    public static Aml lLess(Aml a, Aml b) {
        return binary(LLESS_OP, a, b);
    }

    public static Aml lGreater(Aml a, Aml b) {
        return binary(LGREATER_OP, a, b);
    }

    public static Aml lAnd(Aml a, Aml b) {
        return binary(LAND_OP, a, b);
    }

    public static Aml lOr(Aml a, Aml b) {
        return binary(LOR_OP, a, b);
    }

    public static Aml lNot(Aml a) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(LNOT_OP);
        a.appendTo(out);
        return new Aml(out.toByteArray());
    }

    /** And(a, b) with no target (NullName), usable as an operand. */
    public static Aml and(Aml a, Aml b) {
        return withNullTarget(AND_OP, a, b);
    }

    public static Aml or(Aml a, Aml b) {
        return withNullTarget(OR_OP, a, b);
    }

    private static Aml binary(int op, Aml a, Aml b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(op);
        a.appendTo(out);
        b.appendTo(out);
        return new Aml(out.toByteArray());
    }

    private static Aml withNullTarget(int op, Aml a, Aml b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(op);
        a.appendTo(out);
        b.appendTo(out);
        out.write(NULL_NAME);
        return new Aml(out.toByteArray());
    }

    // ---------------------------------------------------------------- PkgLength

    /**
     * Encodes a PkgLength (20.2.4) for a package whose contents after the PkgLength are
     * {@code contentLength} bytes; the encoded value includes the PkgLength bytes
     * themselves. One byte holds up to 63; otherwise the lead byte's top two bits give
     * the count of following bytes, its low nibble the low four bits of the value, and
     * each following byte the next eight bits.
     */
    public static byte[] pkgLength(int contentLength) {
        if (contentLength < 0) {
            throw new IllegalArgumentException("negative package length");
        }
        for (int n = 1; n <= 4; n++) {
            long total = (long) contentLength + n;
            if (fitsIn(total, n)) {
                return encodePkgLength((int) total, n);
            }
        }
        throw new IllegalArgumentException("AML package too long: " + contentLength);
    }

    /**
     * Encodes a raw PkgLength value that does not count itself: Field element bit widths
     * (20.2.5.2 NamedField) use this form.
     */
    public static byte[] rawPkgLength(int value) {
        if (value < 0) {
            throw new IllegalArgumentException("negative length");
        }
        for (int n = 1; n <= 4; n++) {
            if (fitsIn(value, n)) {
                return encodePkgLength(value, n);
            }
        }
        throw new IllegalArgumentException("length too large for PkgLength: " + value);
    }

    private static boolean fitsIn(long value, int nBytes) {
        return nBytes == 1 ? value <= 0x3F : value < (1L << (4 + 8 * (nBytes - 1)));
    }

    private static byte[] encodePkgLength(int value, int nBytes) {
        byte[] b = new byte[nBytes];
        if (nBytes == 1) {
            b[0] = (byte) value;
            return b;
        }
        b[0] = (byte) (((nBytes - 1) << 6) | (value & 0x0F));
        for (int i = 1; i < nBytes; i++) {
            b[i] = (byte) (value >>> (4 + 8 * (i - 1)));
        }
        return b;
    }

    /**
     * Decodes a PkgLength at {@code offset}; returns {value, encodedBytes}. The inverse of
     * {@link #pkgLength}/{@link #rawPkgLength}, used by tests and by AML walkers.
     */
    public static int[] decodePkgLength(byte[] b, int offset) {
        int lead = b[offset] & 0xFF;
        int follow = lead >>> 6;
        if (follow == 0) {
            return new int[] {lead & 0x3F, 1};
        }
        int value = lead & 0x0F;
        for (int i = 1; i <= follow; i++) {
            value |= (b[offset + i] & 0xFF) << (4 + 8 * (i - 1));
        }
        return new int[] {value, follow + 1};
    }

    /** opcode(s), PkgLength, body: the shape of every scoped AML construct. */
    static byte[] withPkgLength(int opcode, int extOpcode, byte[] body) {
        byte[] len = pkgLength(body.length);
        int prefix = extOpcode >= 0 ? 2 : 1;
        byte[] out = new byte[prefix + len.length + body.length];
        if (extOpcode >= 0) {
            out[0] = (byte) opcode;
            out[1] = (byte) extOpcode;
        } else {
            out[0] = (byte) opcode;
        }
        System.arraycopy(len, 0, out, prefix, len.length);
        System.arraycopy(body, 0, out, prefix + len.length, body.length);
        return out;
    }

    static void putLe(byte[] b, int offset, long value, int n) {
        for (int i = 0; i < n; i++) {
            b[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Aml other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Aml[");
        for (int i = 0; i < bytes.length; i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(String.format("%02X", bytes[i] & 0xFF));
        }
        return sb.append(']').toString();
    }
}
