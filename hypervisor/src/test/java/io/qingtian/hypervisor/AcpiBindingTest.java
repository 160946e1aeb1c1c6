package io.qingtian.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.acpi.AcpiMeasurement;
import io.qingtian.acpi.GuestPlatform;
import io.qingtian.acpi.LegacyDevices;
import io.qingtian.acpi.PciHostBridge;
import io.qingtian.acpi.PmBlock;
import io.qingtian.hypervisor.boot.SyntheticKernels;
import io.qingtian.hypervisor.devices.AcpiPm;
import io.qingtian.hypervisor.memory.GuestRam;
import io.qingtian.hypervisor.pci.PciConfigMmio;
import io.qingtian.hypervisor.pci.PciInterrupts;
import io.qingtian.hypervisor.pci.PciLayout;
import io.qingtian.hypervisor.virtio.PciSegment;
import io.qingtian.hypervisor.x86.X86Layout;
import io.qingtian.sys.UserError;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card computes the ACPI tables with {@code GuestPlatform.forGuest(cpus, memory)} and the
 * hypervisor builds them from its own layout; these must be the same bytes, and a hypervisor
 * told a different measurement must not start the guest.
 */
class AcpiBindingTest {
    @TempDir
    Path dir;

    @AfterEach
    void forget() {
        AcpiExpectation.clear();
    }

    @Test
    void theCardsPlatformIsTheOneTheHypervisorBuilds() {
        long mib = 1L << 20;
        for (long mem : new long[] {16 * mib, 256 * mib, 3072 * mib, 3073 * mib, 4096 * mib, 17 * 1024 * mib, 1L << 40}) {
            for (int cpus : new int[] {1, 2, 7, 254}) {
                PciLayout layout = PciLayout.forRamEnd(X86Layout.MMIO_HOLE_END + GuestRam.highBytes(mem));
                GuestPlatform hv = VmBuilder.platform(cpus, PciSegment.hostBridge(layout));
                GuestPlatform card = GuestPlatform.forGuest(cpus, mem);
                assertThat(hv).as("%d vCPUs, %d MiB", cpus, mem / mib).isEqualTo(card);
                assertThat(AcpiMeasurement.of(hv.tables()).pcrValue()).isEqualTo(AcpiMeasurement.of(card.tables()).pcrValue());
            }
        }
    }

    @Test
    void devicesDecodeWhatTheTablesDescribe() {
        assertThat(GuestPlatform.TABLE_BASE).isEqualTo(X86Layout.ACPI_START);
        assertThat(GuestPlatform.TABLE_END).isEqualTo(X86Layout.ACPI_END);
        assertThat(GuestPlatform.MMIO_HOLE_START).isEqualTo(X86Layout.MMIO_HOLE_START);
        assertThat(GuestPlatform.MMIO_HOLE_END).isEqualTo(X86Layout.MMIO_HOLE_END);
        assertThat(PciHostBridge.ECAM_SIZE_ONE_BUS).isEqualTo(PciConfigMmio.SIZE_ONE_BUS);
        for (int slot = 0; slot < 32; slot++) {
            for (int pin = 0; pin < 4; pin++) {
                assertThat(PciHostBridge.intxGsi(slot, pin)).isEqualTo(PciInterrupts.intxGsi(slot, pin));
            }
        }
        assertThat(AcpiPm.PORT_BASE).isEqualTo(PmBlock.PORT_BASE);
        assertThat(LegacyDevices.COM1_PORT).isEqualTo(0x3F8);
    }

    @Test
    void expectationChecksTheExtendChainAndRejectsBadHex() {
        var tables = GuestPlatform.forGuest(2, 256L << 20).tables();
        AcpiExpectation.check(tables); // nothing expected: passes
        AcpiExpectation.require(AcpiMeasurement.of(tables).pcrValueHex().toUpperCase());
        AcpiExpectation.check(tables);
        var other = GuestPlatform.forGuest(3, 256L << 20).tables();
        assertThatThrownBy(() -> AcpiExpectation.check(other)).isInstanceOf(UserError.class)
                .hasMessageContaining("ACPI tables differ from what the card measured")
                .hasMessageContaining(AcpiMeasurement.of(other).pcrValueHex());
        assertThatThrownBy(() -> AcpiExpectation.require("abc")).isInstanceOf(UserError.class).hasMessageContaining("96 hex digits");
        assertThatThrownBy(() -> AcpiExpectation.require("zz".repeat(48))).isInstanceOf(UserError.class);
    }

    @Test
    @Tag("kvm")
    void aVmWhoseTablesDifferFromTheExpectationIsNotBuilt() throws Exception {
        Path k = Files.write(dir.resolve("bzImage"), SyntheticKernels.bzImageRunning(VmBuilderTest.ACPI_S5));
        VmConfig cfg = new VmConfig(new VmConfig.Machine(1, 32L << 20), new VmConfig.BootSource(k, null, "console=ttyS0"));
        byte[] wrong = AcpiMeasurement.of(GuestPlatform.forGuest(2, 32L << 20).tables()).pcrValue();
        AcpiExpectation.require(java.util.HexFormat.of().formatHex(wrong));
        assertThatThrownBy(() -> VmBuilder.build(cfg, new Console(new ByteArrayOutputStream(), null)))
                .isInstanceOf(UserError.class).hasMessageContaining("ACPI tables differ");

        // the right value: the VM builds, runs, and its guest powers off
        AcpiExpectation.require(AcpiMeasurement.of(GuestPlatform.forGuest(1, 32L << 20).tables()).pcrValueHex());
        try (Vm vm = VmBuilder.build(cfg, new Console(new ByteArrayOutputStream(), null))) {
            vm.start();
            VmExit exit = vm.awaitExit(Duration.ofSeconds(20));
            assertThat(exit).isNotNull();
            assertThat(exit.status()).isEqualTo(ExitStatus.POWEROFF);
        }
        assertThat(Arrays.equals(wrong, new byte[48])).isFalse();
    }
}
