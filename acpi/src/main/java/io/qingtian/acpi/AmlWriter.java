package io.qingtian.acpi;

import java.io.ByteArrayOutputStream;
import java.util.function.Consumer;

/**
 * Appends AML statements (a TermList) to a growing byte buffer. Constructs that open a
 * scope take a body callback; their PkgLength is computed once the body is written, so
 * callers never count bytes:
 *
 * <pre>{@code
 * w.scope("\\_SB_", sb -> sb.device("COM1", d -> d
 *         .name("_HID", Aml.eisaId("PNP0501"))
 *         .name("_CRS", new ResourceTemplate().io(0x3f8, 0x3f8, 1, 8).irqNoFlags(4).toAml())));
 * }</pre>
 *
 * Opcodes and grammar: ACPI 6.4 section 20.2.5 (Term Objects Encoding). Not thread-safe.
 */
public final class AmlWriter {
    // 20.2.5.1 Namespace Modifier Objects, 20.2.5.2 Named Objects, 20.2.5.3 Statements
    private static final int NAME_OP = 0x08;
    private static final int SCOPE_OP = 0x10;
    private static final int METHOD_OP = 0x14;
    private static final int EXT_OP_PREFIX = 0x5B;
    private static final int MUTEX_OP = 0x01;
    private static final int OP_REGION_OP = 0x80;
    private static final int FIELD_OP = 0x81;
    private static final int DEVICE_OP = 0x82;
    private static final int STORE_OP = 0x70;
    private static final int NOTIFY_OP = 0x86;
    private static final int IF_OP = 0xA0;
    private static final int ELSE_OP = 0xA1;
    private static final int RETURN_OP = 0xA4;

    /** Region spaces of OperationRegion (20.2.5.2 RegionSpace). */
    public enum RegionSpace {
        SYSTEM_MEMORY(0x00), SYSTEM_IO(0x01), PCI_CONFIG(0x02), EMBEDDED_CONTROL(0x03),
        SMBUS(0x04), SYSTEM_CMOS(0x05), PCI_BAR_TARGET(0x06);

        final int code;

        RegionSpace(int code) {
            this.code = code;
        }
    }

    /** Field access types (FieldFlags bits 0-3). */
    public enum FieldAccess {
        ANY(0), BYTE(1), WORD(2), DWORD(3), QWORD(4), BUFFER(5);

        final int code;

        FieldAccess(int code) {
            this.code = code;
        }
    }

    /** Field update rules (FieldFlags bits 5-6). */
    public enum FieldUpdate {
        PRESERVE(0), WRITE_AS_ONES(1), WRITE_AS_ZEROS(2);

        final int code;

        FieldUpdate(int code) {
            this.code = code;
        }
    }

    /** One element of a Field list: a named field or reserved (unnamed) bits. */
    public sealed interface FieldEntry {
        int bits();

        record Named(String name, int bits) implements FieldEntry {}

        record Reserved(int bits) implements FieldEntry {}

        static FieldEntry named(String name, int bits) {
            return new Named(name, bits);
        }

        static FieldEntry reserved(int bits) {
            return new Reserved(bits);
        }
    }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Name (20.2.5.1 DefName): NameOp NameString DataRefObject. */
    public AmlWriter name(String name, Aml value) {
        out.write(NAME_OP);
        out.writeBytes(Aml.nameString(name));
        value.appendTo(out);
        return this;
    }

    /** Scope (DefScope): ScopeOp PkgLength NameString TermList. */
    public AmlWriter scope(String path, Consumer<AmlWriter> body) {
        return scoped(SCOPE_OP, -1, Aml.nameString(path), body);
    }

    /** Device (DefDevice): ExtOpPrefix DeviceOp PkgLength NameString TermList. */
    public AmlWriter device(String path, Consumer<AmlWriter> body) {
        return scoped(EXT_OP_PREFIX, DEVICE_OP, Aml.nameString(path), body);
    }

    /**
     * Method (DefMethod): MethodOp PkgLength NameString MethodFlags TermList. MethodFlags:
     * bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel (0 here).
     */
    public AmlWriter method(String name, int argCount, boolean serialized, Consumer<AmlWriter> body) {
        if (argCount < 0 || argCount > 7) {
            throw new IllegalArgumentException("a method takes 0-7 arguments: " + argCount);
        }
        byte[] n = Aml.nameString(name);
        byte[] head = new byte[n.length + 1];
        System.arraycopy(n, 0, head, 0, n.length);
        head[n.length] = (byte) (argCount | (serialized ? 0x08 : 0));
        return scoped(METHOD_OP, -1, head, body);
    }

    /** Return (DefReturn): ReturnOp ArgObject. */
    public AmlWriter returnValue(Aml value) {
        out.write(RETURN_OP);
        value.appendTo(out);
        return this;
    }

    /** If (DefIfElse without Else): IfOp PkgLength Predicate TermList. */
    public AmlWriter ifThen(Aml predicate, Consumer<AmlWriter> body) {
        return scoped(IF_OP, -1, predicate.bytes(), body);
    }

    /** Else (DefElse): ElseOp PkgLength TermList; must directly follow {@link #ifThen}. */
    public AmlWriter orElse(Consumer<AmlWriter> body) {
        return scoped(ELSE_OP, -1, new byte[0], body);
    }

    /** Store (DefStore): StoreOp TermArg SuperName. */
    public AmlWriter store(Aml value, Aml target) {
        out.write(STORE_OP);
        value.appendTo(out);
        target.appendTo(out);
        return this;
    }

    /** Notify (DefNotify): NotifyOp NotifyObject NotifyValue. */
    public AmlWriter notify(Aml object, Aml value) {
        out.write(NOTIFY_OP);
        object.appendTo(out);
        value.appendTo(out);
        return this;
    }

    /** Mutex (DefMutex): ExtOpPrefix MutexOp NameString SyncFlags. */
    public AmlWriter mutex(String name, int syncLevel) {
        out.write(EXT_OP_PREFIX);
        out.write(MUTEX_OP);
        out.writeBytes(Aml.nameString(name));
        out.write(syncLevel & 0x0F);
        return this;
    }

    /**
     * OperationRegion (DefOpRegion): ExtOpPrefix OpRegionOp NameString RegionSpace
     * RegionOffset RegionLen.
     */
    public AmlWriter operationRegion(String name, RegionSpace space, long offset, long length) {
        out.write(EXT_OP_PREFIX);
        out.write(OP_REGION_OP);
        out.writeBytes(Aml.nameString(name));
        out.write(space.code);
        Aml.integer(offset).appendTo(out);
        Aml.integer(length).appendTo(out);
        return this;
    }

    /**
     * Field (DefField): ExtOpPrefix FieldOp PkgLength NameString FieldFlags FieldList.
     * A named element is NameSeg + PkgLength(bits); a reserved one is 0x00 + PkgLength(bits).
     */
    public AmlWriter field(String region, FieldAccess access, FieldUpdate update, FieldEntry... entries) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(Aml.nameString(region));
        body.write(access.code | (update.code << 5));
        for (FieldEntry e : entries) {
            switch (e) {
                case FieldEntry.Named n -> body.writeBytes(Aml.nameSeg(n.name(), region));
                case FieldEntry.Reserved r -> body.write(0x00);
            }
            body.writeBytes(Aml.rawPkgLength(e.bits()));
        }
        out.writeBytes(Aml.withPkgLength(EXT_OP_PREFIX, FIELD_OP, body.toByteArray()));
        return this;
    }

    /** Appends a term as a statement (a method call, or raw AML from elsewhere). */
    public AmlWriter term(Aml term) {
        term.appendTo(out);
        return this;
    }

    /** Runs an {@link AmlSource} against this writer (for composing components). */
    public AmlWriter append(AmlSource source) {
        source.appendAml(this);
        return this;
    }

    public int size() {
        return out.size();
    }

    public byte[] toByteArray() {
        return out.toByteArray();
    }

    private AmlWriter scoped(int op, int extOp, byte[] head, Consumer<AmlWriter> body) {
        AmlWriter inner = new AmlWriter();
        inner.out.writeBytes(head);
        body.accept(inner);
        out.writeBytes(Aml.withPkgLength(op, extOp, inner.toByteArray()));
        return this;
    }
}
