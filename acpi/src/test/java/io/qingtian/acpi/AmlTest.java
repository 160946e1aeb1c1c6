package io.qingtian.acpi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.acpi.AmlWriter.FieldAccess;
import io.qingtian.acpi.AmlWriter.FieldEntry;
import io.qingtian.acpi.AmlWriter.FieldUpdate;
import io.qingtian.acpi.AmlWriter.RegionSpace;
import io.qingtian.acpi.ResourceTemplate.Cacheable;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * AML encodings against byte sequences that iasl produces for the ASL in the comments
 * (the same vectors Cloud Hypervisor's acpi_tables crate checks against), plus the
 * PkgLength rules of ACPI 6.4 section 20.2.4 as properties.
 */
class AmlTest {

    private static byte[] b(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (byte) v[i];
        }
        return out;
    }

    @Test
    void encodesIntegersWithTheShortestPrefix() {
        assertThat(Aml.integer(0).bytes()).containsExactly(b(0x00)); // ZeroOp
        assertThat(Aml.integer(1).bytes()).containsExactly(b(0x01)); // OneOp
        assertThat(Aml.integer(128).bytes()).containsExactly(b(0x0A, 0x80));
        assertThat(Aml.integer(1024).bytes()).containsExactly(b(0x0B, 0x00, 0x04));
        assertThat(Aml.integer(16L << 20).bytes()).containsExactly(b(0x0C, 0x00, 0x00, 0x00, 0x01));
        assertThat(Aml.integer(0xdecafbaddecafbadL).bytes())
                .containsExactly(b(0x0E, 0xAD, 0xFB, 0xCA, 0xDE, 0xAD, 0xFB, 0xCA, 0xDE));
        assertThat(Aml.ONES.bytes()).containsExactly(b(0xFF));
        assertThat(Aml.byteConst(0).bytes()).containsExactly(b(0x0A, 0x00));
    }

    @Test
    void encodesStrings() {
        assertThat(Aml.string("ACPI").bytes()).containsExactly(b(0x0D, 'A', 'C', 'P', 'I', 0));
        assertThatThrownBy(() -> Aml.string("caf\u00e9")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void encodesNamePaths() {
        assertThat(Aml.nameString("_SB_")).containsExactly(b(0x5F, 0x53, 0x42, 0x5F));
        assertThat(Aml.nameString("\\_SB_")).containsExactly(b(0x5C, 0x5F, 0x53, 0x42, 0x5F));
        assertThat(Aml.nameString("_SB_.COM1"))
                .containsExactly(b(0x2E, 0x5F, 0x53, 0x42, 0x5F, 0x43, 0x4F, 0x4D, 0x31));
        assertThat(Aml.nameString("_SB_.PCI0._HID")).containsExactly(
                b(0x2F, 0x03, 0x5F, 0x53, 0x42, 0x5F, 0x50, 0x43, 0x49, 0x30, 0x5F, 0x48, 0x49, 0x44));
        // Short segments are padded with '_' as in ASL; parent prefixes and the bare root.
        assertThat(Aml.nameString("\\_SB.RTC")).containsExactly(b(0x5C, 0x2E, '_', 'S', 'B', '_', 'R', 'T', 'C', '_'));
        assertThat(Aml.nameString("^^FOO")).containsExactly(b('^', '^', 'F', 'O', 'O', '_'));
        assertThat(Aml.nameString("\\")).containsExactly(b(0x5C, 0x00));
    }

    @Test
    void rejectsMalformedNames() {
        for (String bad : new String[] {"", "TOOLONG", "1ABC", "A.B.", "ab", "\\_SB_..X"}) {
            assertThatThrownBy(() -> Aml.nameString(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void encodesNameWithWordValue() {
        // Name (_SB.PCI0._UID, 0x1234)
        byte[] aml = new AmlWriter().name("_SB_.PCI0._UID", Aml.integer(0x1234)).toByteArray();
        assertThat(aml).containsExactly(b(0x08, 0x2F, 0x03, 0x5F, 0x53, 0x42, 0x5F, 0x50, 0x43, 0x49, 0x30,
                0x5F, 0x55, 0x49, 0x44, 0x0B, 0x34, 0x12));
    }

    @Test
    void encodesEisaIdLikeIasl() {
        // Name (_HID, EisaId ("PNP0501"))
        byte[] aml = new AmlWriter().name("_HID", Aml.eisaId("PNP0501")).toByteArray();
        assertThat(aml).containsExactly(b(0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C, 0x41, 0xD0, 0x05, 0x01));
        assertThat(Aml.eisaIdValue("PNP0A06")).isEqualTo(0x060AD041L);
        assertThatThrownBy(() -> Aml.eisaId("pnp0501")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Aml.eisaId("PNP05G1")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void encodesS5Package() {
        // Name (_S5, Package (0x01) { 0x05 })
        byte[] aml = new AmlWriter().name("_S5_", Aml.pkg(Aml.integer(5))).toByteArray();
        assertThat(aml).containsExactly(b(0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x04, 0x01, 0x0A, 0x05));
    }

    @Test
    void encodesMethodReturningConstant() {
        // Method (_STA, 0, NotSerialized) { Return (0x0F) }
        byte[] aml = new AmlWriter().method("_STA", 0, false, m -> m.returnValue(Aml.integer(0xF))).toByteArray();
        assertThat(aml).containsExactly(b(0x14, 0x09, 0x5F, 0x53, 0x54, 0x41, 0x00, 0xA4, 0x0A, 0x0F));
    }

    @Test
    void encodesSerializedMethodFlags() {
        byte[] aml = new AmlWriter().method("TEST", 3, true, m -> {}).toByteArray();
        assertThat(aml).containsExactly(b(0x14, 0x06, 'T', 'E', 'S', 'T', 0x0B));
    }

    @Test
    void encodesIfWithArgComparison() {
        // Method (TEST, 1) { If (Arg0 == Zero) { Return (One) } Return (Zero) }
        byte[] aml = new AmlWriter().method("TEST", 1, false, m -> m
                .ifThen(Aml.lEqual(Aml.arg(0), Aml.ZERO), t -> t.returnValue(Aml.ONE))
                .returnValue(Aml.ZERO)).toByteArray();
        assertThat(aml).containsExactly(b(0x14, 0x0F, 0x54, 0x45, 0x53, 0x54, 0x01, 0xA0, 0x06, 0x93, 0x68, 0x00,
                0xA4, 0x01, 0xA4, 0x00));
    }

    @Test
    void encodesStoreToLocal() {
        // Method (TEST) { Local0 = One; If (Local0 == Zero) { Return (One) } Return (Zero) }
        byte[] aml = new AmlWriter().method("TEST", 0, false, m -> m
                .store(Aml.ONE, Aml.local(0))
                .ifThen(Aml.lEqual(Aml.local(0), Aml.ZERO), t -> t.returnValue(Aml.ONE))
                .returnValue(Aml.ZERO)).toByteArray();
        assertThat(aml).containsExactly(b(0x14, 0x12, 0x54, 0x45, 0x53, 0x54, 0x00, 0x70, 0x01, 0x60, 0xA0, 0x06,
                0x93, 0x60, 0x00, 0xA4, 0x01, 0xA4, 0x00));
    }

    @Test
    void encodesCom1Device() {
        /*
         * Device (_SB.COM1) {
         *   Name (_HID, EisaId ("PNP0501"))
         *   Name (_CRS, ResourceTemplate () {
         *     Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { 4 }
         *     IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08) })
         * }
         */
        byte[] aml = new AmlWriter().device("_SB_.COM1", d -> d
                .name("_HID", Aml.eisaId("PNP0501"))
                .name("_CRS", new ResourceTemplate()
                        .interrupt(true, true, false, false, 4)
                        .io(0x3f8, 0x3f8, 0, 8)
                        .toAml())).toByteArray();
        assertThat(aml).containsExactly(b(0x5B, 0x82, 0x30, 0x2E, 0x5F, 0x53, 0x42, 0x5F, 0x43, 0x4F, 0x4D, 0x31,
                0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C, 0x41, 0xD0, 0x05, 0x01, 0x08, 0x5F, 0x43, 0x52, 0x53, 0x11,
                0x16, 0x0A, 0x13, 0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x47, 0x01,
                0xF8, 0x03, 0xF8, 0x03, 0x00, 0x08, 0x79, 0x00));
    }

    @Test
    void encodesScopeWithMemory32Fixed() {
        // Scope (_SB.MBRD) { Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xE8000000, 0x10000000) }) }
        byte[] aml = new AmlWriter().scope("_SB_.MBRD", s -> s
                .name("_CRS", new ResourceTemplate().memory32Fixed(true, 0xE800_0000L, 0x1000_0000L).toAml()))
                .toByteArray();
        assertThat(aml).containsExactly(b(0x10, 0x21, 0x2E, 0x5F, 0x53, 0x42, 0x5F, 0x4D, 0x42, 0x52, 0x44, 0x08,
                0x5F, 0x43, 0x52, 0x53, 0x11, 0x11, 0x0A, 0x0E, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xE8,
                0x00, 0x00, 0x00, 0x10, 0x79, 0x00));
    }

    @Test
    void encodesWordBusNumberAndWordIo() {
        // WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
        byte[] bus = new AmlWriter().name("_CRS", new ResourceTemplate().wordBusNumber(0, 0xFF).toAml()).toByteArray();
        assertThat(bus).containsExactly(b(0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x15, 0x0A, 0x12, 0x88, 0x0D, 0x00,
                0x02, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01, 0x79, 0x00));
        // WordIO x2: 0x0000-0x0CF7 and 0x0D00-0xFFFF, EntireRange
        byte[] io = new AmlWriter().name("_CRS", new ResourceTemplate().wordIo(0, 0xcf7).wordIo(0xd00, 0xffff).toAml())
                .toByteArray();
        assertThat(io).containsExactly(b(0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x25, 0x0A, 0x22, 0x88, 0x0D, 0x00,
                0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00, 0x00, 0xF8, 0x0C, 0x88, 0x0D, 0x00,
                0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3, 0x79, 0x00));
    }

    @Test
    void encodesDwordAndQwordMemory() {
        byte[] dword = new AmlWriter().name("_CRS", new ResourceTemplate()
                .dwordMemory(Cacheable.CACHEABLE, true, 0xa_0000L, 0xb_ffffL)
                .dwordMemory(Cacheable.NON_CACHEABLE, true, 0xc000_0000L, 0xfebf_ffffL)
                .toAml()).toByteArray();
        assertThat(dword).containsExactly(b(0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x39, 0x0A, 0x36, 0x87, 0x17, 0x00,
                0x00, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x00, 0xFF, 0xFF, 0x0B, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x87, 0x17, 0x00, 0x00, 0x0C, 0x01, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0xFF, 0xFF, 0xBF, 0xFE, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0xC0, 0x3E, 0x79, 0x00));
        byte[] qword = new AmlWriter().name("_CRS", new ResourceTemplate()
                .qwordMemory(Cacheable.CACHEABLE, true, 0x8_0000_0000L, 0xf_ffff_ffffL).toAml()).toByteArray();
        assertThat(qword).containsExactly(b(0x08, 0x5F, 0x43, 0x52, 0x53, 0x11, 0x33, 0x0A, 0x30, 0x8A, 0x2B, 0x00,
                0x00, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,
                0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x79, 0x00));
    }

    @Test
    void encodesSmallIrqAndFixedIoDescriptors() {
        // IRQNoFlags () {4}: tag 0x22, mask 0x0010
        assertThat(new ResourceTemplate().irqNoFlags(4).toDescriptorBytes(false))
                .containsExactly(b(0x22, 0x10, 0x00, 0x79, 0x00));
        // IRQ (Level, ActiveLow, Shared) {9, 10}: tag 0x23, mask 0x0600, flags 0x18
        assertThat(new ResourceTemplate().irq(false, true, true, 9, 10).toDescriptorBytes(false))
                .containsExactly(b(0x23, 0x00, 0x06, 0x18, 0x79, 0x00));
        // FixedIO (0x0060, 0x01)
        assertThat(new ResourceTemplate().fixedIo(0x60, 1).toDescriptorBytes(false))
                .containsExactly(b(0x4B, 0x60, 0x00, 0x01, 0x79, 0x00));
    }

    @Test
    void endTagChecksumMakesTemplateSumToZero() {
        byte[] d = new ResourceTemplate().io(0x3f8, 0x3f8, 1, 8).irqNoFlags(4).dwordIo(0x1000, 0x1fff)
                .toDescriptorBytes(true);
        int sum = 0;
        for (byte x : d) {
            sum += x & 0xFF;
        }
        assertThat(sum & 0xFF).isZero();
        assertThat(d[d.length - 2]).isEqualTo((byte) 0x79);
        assertThat(d[d.length - 1]).isNotZero();
    }

    @Test
    void encodesOperationRegionAndFields() {
        // OperationRegion (PRST, SystemIO, 0x0CD8, 0x0C)
        byte[] region = new AmlWriter().operationRegion("PRST", RegionSpace.SYSTEM_IO, 0xcd8, 0xc).toByteArray();
        assertThat(region).containsExactly(b(0x5B, 0x80, 0x50, 0x52, 0x53, 0x54, 0x01, 0x0B, 0xD8, 0x0C, 0x0A, 0x0C));
        // Field (PRST, ByteAcc, NoLock, WriteAsZeros) { Offset (4), CPEN,1, CINS,1, CRMV,1, CEJ0,1, Offset (5), CCMD,8 }
        byte[] field = new AmlWriter().field("PRST", FieldAccess.BYTE, FieldUpdate.WRITE_AS_ZEROS,
                FieldEntry.reserved(32), FieldEntry.named("CPEN", 1), FieldEntry.named("CINS", 1),
                FieldEntry.named("CRMV", 1), FieldEntry.named("CEJ0", 1), FieldEntry.reserved(4),
                FieldEntry.named("CCMD", 8)).toByteArray();
        assertThat(field).containsExactly(b(0x5B, 0x81, 0x23, 0x50, 0x52, 0x53, 0x54, 0x41, 0x00, 0x20, 0x43, 0x50,
                0x45, 0x4E, 0x01, 0x43, 0x49, 0x4E, 0x53, 0x01, 0x43, 0x52, 0x4D, 0x56, 0x01, 0x43, 0x45, 0x4A,
                0x30, 0x01, 0x00, 0x04, 0x43, 0x43, 0x4D, 0x44, 0x08));
        // Field (PRST, DWordAcc, NoLock, Preserve) { CSEL,32, Offset (8), CDAT,32 }
        byte[] dwordField = new AmlWriter().field("PRST", FieldAccess.DWORD, FieldUpdate.PRESERVE,
                FieldEntry.named("CSEL", 32), FieldEntry.reserved(32), FieldEntry.named("CDAT", 32)).toByteArray();
        assertThat(dwordField).containsExactly(b(0x5B, 0x81, 0x12, 0x50, 0x52, 0x53, 0x54, 0x03, 0x43, 0x53, 0x45,
                0x4C, 0x20, 0x00, 0x20, 0x43, 0x44, 0x41, 0x54, 0x20));
    }

    @Test
    void encodesMutexInsideDevice() {
        // Device (_SB.MHPC) { Name (_HID, EisaId ("PNP0A06")) Mutex (MLCK, 0) }
        byte[] aml = new AmlWriter().device("_SB_.MHPC", d -> d
                .name("_HID", Aml.eisaId("PNP0A06"))
                .mutex("MLCK", 0)).toByteArray();
        assertThat(aml).startsWith(b(0x5B, 0x82)).endsWith(b(0x5B, 0x01, 'M', 'L', 'C', 'K', 0x00));
        int[] len = Aml.decodePkgLength(aml, 2);
        assertThat(len[0]).isEqualTo(aml.length - 2);
    }

    @Test
    void pkgLengthBoundariesMatchSpec() {
        // 62 bytes of content + 1 length byte = 63: still one byte.
        assertThat(Aml.pkgLength(62)).containsExactly(b(63));
        // 63 + 1 = 64 does not fit six bits: two bytes, and the value counts both.
        assertThat(Aml.pkgLength(63)).containsExactly(b(0x40 | (65 & 0xF), 65 >> 4));
        assertThat(Aml.pkgLength(64)).containsExactly(b(0x40 | (66 & 0xF), 66 >> 4));
        assertThat(Aml.pkgLength(4096)).containsExactly(b(0x80 | (4099 & 0xF), (4099 >> 4) & 0xFF, 4099 >> 12));
        assertThat(Aml.pkgLength(4093)).hasSize(2);
        assertThat(Aml.pkgLength(4094)).hasSize(3);
        assertThat(Aml.pkgLength((1 << 20) - 4)).hasSize(3);
        assertThat(Aml.pkgLength((1 << 20) - 3)).hasSize(4);
        assertThatThrownBy(() -> Aml.pkgLength(Aml.MAX_PKG_LENGTH)).isInstanceOf(IllegalArgumentException.class);
    }

    @Property
    void pkgLengthRoundTripsAndCountsItself(@ForAll @IntRange(min = 0, max = (1 << 28) - 5) int content) {
        byte[] enc = Aml.pkgLength(content);
        int[] dec = Aml.decodePkgLength(enc, 0);
        assertThat(dec[1]).isEqualTo(enc.length);
        assertThat(dec[0]).isEqualTo(content + enc.length);
        // The lead byte's top bits count the follow bytes; with follow bytes, bits 4-5 are zero.
        assertThat((enc[0] & 0xFF) >>> 6).isEqualTo(enc.length - 1);
        if (enc.length > 1) {
            assertThat(enc[0] & 0x30).isZero();
        }
        // The shortest encoding: one byte less would not hold the value.
        int expected = content + 1 <= 63 ? 1 : content + 2 < (1 << 12) ? 2 : content + 3 < (1 << 20) ? 3 : 4;
        assertThat(enc).hasSize(expected);
    }

    @Property
    void rawPkgLengthRoundTrips(@ForAll @IntRange(min = 0, max = (1 << 28) - 1) int value) {
        byte[] enc = Aml.rawPkgLength(value);
        assertThat(Aml.decodePkgLength(enc, 0)).containsExactly(value, enc.length);
    }

    @Property
    void integersDecodeToTheirValue(@ForAll long value) {
        byte[] enc = Aml.integer(value).bytes();
        long decoded = switch (enc[0]) {
            case 0x00 -> 0;
            case 0x01 -> 1;
            case 0x0A, 0x0B, 0x0C, 0x0E -> {
                long v = 0;
                for (int i = enc.length - 1; i >= 1; i--) {
                    v = (v << 8) | (enc[i] & 0xFF);
                }
                yield v;
            }
            default -> throw new AssertionError("unexpected prefix " + enc[0]);
        };
        assertThat(decoded).isEqualTo(value);
        int expectedLength = value == 0 || value == 1 ? 1
                : (value & ~0xFFL) == 0 ? 2 : (value & ~0xFFFFL) == 0 ? 3 : (value & ~0xFFFF_FFFFL) == 0 ? 5 : 9;
        assertThat(enc).hasSize(expectedLength);
    }

    @Property(tries = 200)
    void nestedScopesHaveConsistentLengths(@ForAll @IntRange(min = 0, max = 300) int names) {
        byte[] aml = new AmlWriter().scope("\\_SB_", s -> {
            for (int i = 0; i < names; i++) {
                s.name(String.format("N%03X", i), Aml.integer(i * 1000L));
            }
        }).toByteArray();
        assertThat(aml[0]).isEqualTo((byte) 0x10);
        int[] len = Aml.decodePkgLength(aml, 1);
        assertThat(len[0]).isEqualTo(aml.length - 1);
    }
}
