package io.qingtian.hypervisor.vcpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Decoding of struct kvm_vcpu_events for the report (layout: api.rst 4.31). */
class CrashReportTest {
    private static ByteBuffer blob() {
        return ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void quietVcpuHasNoEvents() {
        assertThat(CrashReport.events(blob().array())).isEqualTo("exception none; interrupt none; nmi none; flags 0");
    }

    @Test
    void injectedPageFaultWithErrorCodeAndPayload() {
        ByteBuffer b = blob();
        b.put(0, (byte) 1).put(1, (byte) 14).put(2, (byte) 1).putInt(4, 0x2);
        b.put(55, (byte) 1).putLong(56, 0xffff_8880_0000_1000L);
        b.putInt(20, 0x10);
        assertThat(CrashReport.events(b.array()))
                .isEqualTo("exception injected #14 err 2 payload ffff888000001000; interrupt none; nmi none; flags 10");
    }

    @Test
    void pendingInterruptShadowNmiAndTripleFault() {
        ByteBuffer b = blob();
        b.put(3, (byte) 1).put(1, (byte) 8);                  // #DF pending, no error code flag
        b.put(8, (byte) 1).put(9, (byte) 0xec).put(11, (byte) 1); // vector 0xec injected, STI shadow
        b.put(13, (byte) 1).put(14, (byte) 1);                // NMI pending, masked
        b.put(28, (byte) 1);                                  // triple fault pending
        assertThat(CrashReport.events(b.array())).isEqualTo(
                "exception pending #8; interrupt injected vector 0xec shadow sti; nmi pending masked; triple fault pending; flags 0");
    }

    @Test
    void shortBlobIsSaidNotMisread() {
        assertThat(CrashReport.events(new byte[10])).contains("short");
    }
}
