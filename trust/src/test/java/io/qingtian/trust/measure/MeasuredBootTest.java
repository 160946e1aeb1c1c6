package io.qingtian.trust.measure;

import io.qingtian.acpi.GuestPlatform;
import io.qingtian.trust.Openssl;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.Sha384;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MeasuredBootTest {
    @TempDir
    Path dir;

    private static MeasuredBoot measure(byte[] kernel, byte[] initrd, String cmdline, int cpus) {
        return new MeasuredBoot().hypervisor(Sha384.of(new byte[] {9}), "build")
                .kernel(MemorySegment.ofArray(kernel), "kernel").initramfs(MemorySegment.ofArray(initrd), "initrd")
                .cmdline(cmdline).acpiTables(GuestPlatform.forGuest(cpus, 256L << 20).tables());
    }

    @Test
    void extendFollowsTpm2SemanticsCheckedWithOpenssl() throws Exception {
        byte[] data = "kernel image".getBytes();
        Files.write(dir.resolve("data"), data);
        // digest = SHA-384(data); PCR = SHA-384(48 zero bytes || digest), computed by openssl.
        String d = Openssl.ok(dir, "dgst", "-sha384", "-binary", "-out", "digest", "data");
        assertThat(d).isEmpty();
        byte[] concat = new byte[96];
        System.arraycopy(Files.readAllBytes(dir.resolve("digest")), 0, concat, 48, 48);
        Files.write(dir.resolve("concat"), concat);
        String expected = Openssl.ok(dir, "dgst", "-sha384", "-r", "concat").split(" ")[0];
        byte[] pcr1 = new MeasuredBoot().kernel(MemorySegment.ofArray(data), "k").pcrs().value(Pcr.KERNEL);
        assertThat(Hex.of(pcr1)).isEqualTo(expected);
    }

    @Test
    void measurementsAreReproducible() {
        byte[] k = new byte[4096];
        k[7] = 42;
        MeasuredBoot a = measure(k, new byte[100], "console=ttyS0", 2);
        MeasuredBoot b = measure(k.clone(), new byte[100], "console=ttyS0", 2);
        assertThat(a.pcrs().sameAs(b.pcrs())).isTrue();
        assertThat(a.eventLog().events()).isEqualTo(b.eventLog().events());
    }

    @Test
    void eachInputChangesOnlyItsOwnPcr() {
        MeasuredBoot base = measure(new byte[64], new byte[64], "c", 1);
        byte[] k = new byte[64];
        k[63] = 1;
        MeasuredBoot flippedKernel = measure(k, new byte[64], "c", 1);
        MeasuredBoot flippedInitrd = measure(new byte[64], k, "c", 1);
        MeasuredBoot flippedCmdline = measure(new byte[64], new byte[64], "d", 1);
        MeasuredBoot flippedAcpi = measure(new byte[64], new byte[64], "c", 2);
        assertChangedOnly(base, flippedKernel, Pcr.KERNEL);
        assertChangedOnly(base, flippedInitrd, Pcr.INITRAMFS);
        assertChangedOnly(base, flippedCmdline, Pcr.CMDLINE);
        assertChangedOnly(base, flippedAcpi, Pcr.ACPI_TABLES);
    }

    private static void assertChangedOnly(MeasuredBoot a, MeasuredBoot b, int pcr) {
        for (int i = 0; i < Pcr.COUNT; i++) {
            if (i == pcr) {
                assertThat(b.pcrs().value(i)).as("PCR%d", i).isNotEqualTo(a.pcrs().value(i));
            } else {
                assertThat(b.pcrs().value(i)).as("PCR%d", i).isEqualTo(a.pcrs().value(i));
            }
        }
    }

    @Property(tries = 100)
    void eventLogReplaysToTheSameRegisters(@ForAll @Size(max = 300) byte[] kernel, @ForAll @Size(max = 300) byte[] initrd,
                                           @ForAll String cmdline) throws TrustException {
        MeasuredBoot mb = measure(kernel, initrd, cmdline, 1 + kernel.length % 4);
        assertThat(mb.eventLog().replay().sameAs(mb.pcrs())).isTrue();
        EventLog parsed = EventLog.parse("log", mb.eventLog().toJson());
        assertThat(parsed.replay().sameAs(mb.pcrs())).isTrue();
        assertThat(parsed.events()).isEqualTo(mb.eventLog().events());
    }

    @Test
    void tamperedEventLogNoLongerReplaysToTheRegisters() throws TrustException {
        MeasuredBoot mb = measure(new byte[8], new byte[8], "c", 1);
        List<MeasurementEvent> events = new java.util.ArrayList<>(mb.eventLog().events());
        java.util.Collections.swap(events, 1, 2); // different PCRs: order across PCRs does not matter...
        assertThat(new EventLog(events).replay().sameAs(mb.pcrs())).isTrue();
        events.add(new MeasurementEvent(Pcr.KERNEL, MeasurementEvent.Type.KERNEL, new byte[48], "extra"));
        assertThat(new EventLog(events).replay().sameAs(mb.pcrs())).isFalse(); // ...an extra event does
    }

    @Test
    void malformedEventLogsAreClearErrors() {
        assertThatThrownBy(() -> EventLog.parse("log", "{".getBytes())).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> EventLog.parse("log", "{\"format\":\"x\"}".getBytes())).hasMessageContaining("not a qingtian-event-log/1");
        assertThatThrownBy(() -> EventLog.parse("log", ("{\"format\":\"qingtian-event-log/1\",\"events\":[{\"pcr\":99,"
                + "\"type\":\"KERNEL\",\"digest\":\"00\"}]}").getBytes())).hasMessageContaining("\"pcr\" must be");
        assertThatThrownBy(() -> EventLog.parse("log", ("{\"format\":\"qingtian-event-log/1\",\"events\":[{\"pcr\":1,"
                + "\"type\":\"BOGUS\",\"digest\":\"00\"}]}").getBytes())).hasMessageContaining("unknown event type");
        assertThatThrownBy(() -> EventLog.parse("log", ("{\"format\":\"qingtian-event-log/1\",\"events\":[{\"pcr\":1,"
                + "\"type\":\"KERNEL\",\"digest\":\"00\"}]}").getBytes())).hasMessageContaining("48 bytes");
    }

    @Test
    void nativeAndHeapSegmentsMeasureTheSame() {
        byte[] data = new byte[200_000];
        new java.util.Random(1).nextBytes(data);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(data.length);
            MemorySegment.copy(data, 0, n, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
            assertThat(MeasuredBoot.digest(n)).isEqualTo(Sha384.of(data)).isEqualTo(MeasuredBoot.digest(MemorySegment.ofArray(data)));
        }
    }

    @Test
    void hypervisorBuildDigestIgnoresOrderButNotContentOrNames() throws Exception {
        Path a = Files.write(dir.resolve("a.jar"), new byte[] {1});
        Path b = Files.write(dir.resolve("b.jar"), new byte[] {2});
        byte[] d = HypervisorBuild.digest(List.of(a, b));
        assertThat(HypervisorBuild.digest(List.of(b, a))).isEqualTo(d);
        Files.write(b, new byte[] {3});
        assertThat(HypervisorBuild.digest(List.of(a, b))).isNotEqualTo(d);
        Files.write(b, new byte[] {2});
        Path c = Files.move(b, dir.resolve("c.jar"));
        assertThat(HypervisorBuild.digest(List.of(a, c))).isNotEqualTo(d);
    }

    @Test
    void measurementStoreKeepsTheLogAndRefusesOddNames() throws Exception {
        MeasuredBoot mb = measure(new byte[8], new byte[8], "c", 1);
        MeasurementStore store = new MeasurementStore(dir);
        store.save("vm-1", mb.eventLog());
        assertThat(store.load("vm-1")).hasValueSatisfying(l -> assertThat(l.replay().sameAs(mb.pcrs())).isTrue());
        assertThat(store.load("vm-2")).isEmpty();
        assertThatThrownBy(() -> store.save("../x", mb.eventLog())).hasMessageContaining("invalid instance name");
    }
}
