package io.qingtian.hypervisor.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.hypervisor.pci.MsiMessage;
import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class VirtioPciDeviceTest {
    static final long FEATURES = VirtioPciDevice.VIRTIO_F_VERSION_1 | 1L << 9;

    /** A two-queue device that records what the transport told it. */
    static final class RecordingDevice implements VirtioDevice {
        long activatedFeatures = -1;
        List<QueueConfig> activatedQueues;
        VirtioInterrupt interrupt;
        int resets;
        final List<Integer> notifies = new ArrayList<>();

        @Override public int deviceType() { return 2; }
        @Override public long deviceFeatures() { return FEATURES; }
        @Override public int queueCount() { return 2; }
        @Override public int queueMaxSize() { return 256; }
        @Override public long readConfig(long offset, int size) { return offset == 0 ? 0x2000 : 0; }
        @Override public void writeConfig(long offset, int size, long value) { }
        @Override public boolean activate(long features, List<QueueConfig> queues, VirtioInterrupt irq) {
            activatedFeatures = features;
            activatedQueues = queues;
            interrupt = irq;
            return true;
        }
        @Override public void reset() { resets++; }
        @Override public void queueNotify(int index) { notifies.add(index); }
    }

    RecordingDevice dev;
    VirtioPciDevice pci;
    List<Integer> msiDelivered;
    List<Integer> intxLevels;

    @BeforeEach
    void setUp() {
        dev = new RecordingDevice();
        msiDelivered = new ArrayList<>();
        intxLevels = new ArrayList<>();
        pci = new VirtioPciDevice(dev, (v, m) -> msiDelivered.add(v), intxLevels::add);
        pci.assignBar(0, 0xc000_0000L);
    }

    private long common(int off, int size) {
        return pci.barRead(pci.bar0(), off, size);
    }

    private void common(int off, int size, long value) {
        pci.barWrite(pci.bar0(), off, size, value);
    }

    private Map<Integer, Integer> virtioCaps() {
        Map<Integer, Integer> caps = new HashMap<>();
        PciConfigSpace c = pci.config();
        int p = c.get8(PciConfigSpace.CAPABILITIES_POINTER);
        int guard = 0;
        while (p != 0 && guard++ < 48) {
            if (c.get8(p) == 0x09) {
                caps.put(c.get8(p + 3), p);
            }
            p = c.get8(p + 1);
        }
        return caps;
    }

    @Test
    void identifiesAsModernVirtioBlockWithAllCapabilities() {
        PciConfigSpace c = pci.config();
        assertThat(c.get16(PciConfigSpace.VENDOR_ID)).isEqualTo(0x1af4);
        assertThat(c.get16(PciConfigSpace.DEVICE_ID)).isEqualTo(0x1042);
        assertThat(c.get8(PciConfigSpace.REVISION_ID)).isEqualTo(1);
        Map<Integer, Integer> caps = virtioCaps();
        assertThat(caps).containsOnlyKeys(1, 2, 3, 4, 5);
        int notify = caps.get(2);
        assertThat(c.get32(notify + 8)).isEqualTo((int) VirtioPciDevice.NOTIFY);
        assertThat(c.get32(notify + 16)).isEqualTo(VirtioPciDevice.NOTIFY_OFF_MULTIPLIER);
        assertThat(c.get8(caps.get(1) + 2)).isEqualTo(16); // cap_len of virtio_pci_cap
        assertThat(c.get8(notify + 2)).isEqualTo(20);
        assertThat(pci.notifyAddress(1)).isEqualTo(0xc000_0000L + 0x3004);
    }

    @Test
    void negotiatesFeaturesAndActivatesEnabledQueuesOnDriverOk() {
        common(0x00, 4, 1);
        assertThat(common(0x04, 4)).isEqualTo(1); // VERSION_1 is bit 32
        common(0x14, 1, VirtioPciDevice.STATUS_ACKNOWLEDGE | VirtioPciDevice.STATUS_DRIVER);
        common(0x08, 4, 0);
        common(0x0c, 4, 1 << 9);
        common(0x08, 4, 1);
        common(0x0c, 4, 1);
        common(0x14, 1, 0xb); // + FEATURES_OK
        assertThat(common(0x14, 1) & VirtioPciDevice.STATUS_FEATURES_OK).isNotZero();
        common(0x16, 2, 1);
        assertThat(common(0x18, 2)).isEqualTo(256);
        common(0x18, 2, 128);
        common(0x1a, 2, 2);
        common(0x20, 8, 0x10000);
        common(0x28, 4, 0x11000);
        common(0x2c, 4, 0);
        common(0x30, 8, 0x12000);
        common(0x1c, 2, 1);
        common(0x14, 1, 0xf);
        assertThat(dev.activatedFeatures).isEqualTo(FEATURES);
        assertThat(dev.activatedQueues).containsExactly(new QueueConfig(1, 128, 0x10000, 0x11000, 0x12000, 2));
        // queue registers are frozen after DRIVER_OK
        common(0x18, 2, 64);
        assertThat(common(0x18, 2)).isEqualTo(128);
        // reset clears the device
        common(0x14, 1, 0);
        assertThat(dev.resets).isEqualTo(1);
        assertThat(common(0x14, 1)).isZero();
    }

    @Test
    void refusesFeaturesTheDeviceDoesNotOfferOrWithoutVersion1() {
        common(0x08, 4, 0);
        common(0x0c, 4, 1 << 5); // not offered
        common(0x08, 4, 1);
        common(0x0c, 4, 1);
        common(0x14, 1, 0xb);
        assertThat(common(0x14, 1) & VirtioPciDevice.STATUS_FEATURES_OK).isZero();
        common(0x14, 1, 0);
        common(0x08, 4, 0);
        common(0x0c, 4, 1 << 9); // legacy driver: no VERSION_1
        common(0x14, 1, 0xb);
        assertThat(common(0x14, 1) & VirtioPciDevice.STATUS_FEATURES_OK).isZero();
    }

    @Test
    void rejectsQueueSizesThatAreNotPowersOfTwoOrTooLarge() {
        common(0x16, 2, 0);
        common(0x18, 2, 100);
        assertThat(common(0x18, 2)).isEqualTo(256);
        common(0x18, 2, 512);
        assertThat(common(0x18, 2)).isEqualTo(256);
        common(0x16, 2, 7); // no such queue
        assertThat(common(0x18, 2)).isZero();
        common(0x18, 2, 64); // ignored, no crash
    }

    @Test
    void notifiesReachOnlyEnabledQueuesOfAnActiveDevice() {
        common(0x3000, 4, 0); // before activation
        assertThat(dev.notifies).isEmpty();
        common(0x16, 2, 0);
        common(0x1c, 2, 1);
        common(0x08, 4, 1);
        common(0x0c, 4, 1);
        common(0x14, 1, 0xf);
        common(0x3000, 2, 0);
        common(0x3004, 2, 1); // queue 1 never enabled
        assertThat(dev.notifies).containsExactly(0);
    }

    @Test
    void interruptsUseMsixWhenEnabledAndIntxOtherwise() {
        common(0x16, 2, 0);
        common(0x1a, 2, 1);
        common(0x1c, 2, 1);
        common(0x08, 4, 1);
        common(0x0c, 4, 1);
        common(0x14, 1, 0xf);
        // MSI-X disabled: INTx asserted, ISR read clears and deasserts
        dev.interrupt.queue(0);
        assertThat(intxLevels).last().isEqualTo(1);
        assertThat(common(0x1000, 1)).isEqualTo(1);
        assertThat(intxLevels).last().isEqualTo(0);
        assertThat(common(0x1000, 1)).isZero();
        // enable MSI-X and unmask vector 1
        int msixCap = findCap(MsixTable.CAP_ID);
        pci.configWrite(msixCap + 2, 2, MsixTable.CONTROL_ENABLE);
        pci.barWrite(pci.bar0(), VirtioPciDevice.MSIX_TABLE + 16, 8, 0xfee0_0000L);
        pci.barWrite(pci.bar0(), VirtioPciDevice.MSIX_TABLE + 24, 4, 0x31);
        pci.barWrite(pci.bar0(), VirtioPciDevice.MSIX_TABLE + 28, 4, 0);
        dev.interrupt.queue(0);
        assertThat(msiDelivered).containsExactly(1);
        assertThat(pci.msixMessage(1)).isEqualTo(new MsiMessage(0xfee0_0000L, 0x31));
    }

    @Test
    void vectorBeyondTableReadsBackAsNoVector() {
        common(0x10, 2, 40);
        assertThat(common(0x10, 2)).isEqualTo(0xffff);
        common(0x16, 2, 0);
        common(0x1a, 2, 3); // table has queueCount+1 = 3 entries
        assertThat(common(0x1a, 2)).isEqualTo(0xffff);
    }

    @Test
    void pciCfgCapabilityWindowsIntoTheBar() {
        int cap = virtioCaps().get(5);
        pci.configWrite(cap + 4, 1, 0);
        pci.configWrite(cap + 8, 4, 0x12); // num_queues
        pci.configWrite(cap + 12, 4, 2);
        assertThat(pci.configRead(cap + 16, 2)).isEqualTo(2);
    }

    private int findCap(int id) {
        PciConfigSpace c = pci.config();
        int p = c.get8(PciConfigSpace.CAPABILITIES_POINTER);
        while (p != 0) {
            if (c.get8(p) == id) {
                return p;
            }
            p = c.get8(p + 1);
        }
        throw new AssertionError("no capability " + id);
    }

    @Test
    void needsResetSetsTheStatusBitOnceAndRaisesAConfigInterrupt() {
        common(0x14, 1, 0x3);
        common(0x08, 4, 1);
        common(0x0c, 4, 1);
        common(0x14, 1, 0xb);
        common(0x1c, 2, 1);
        common(0x14, 1, 0xf);
        int generation = (int) common(0x15, 1);
        dev.interrupt.needsReset();
        dev.interrupt.needsReset();
        assertThat(common(0x14, 1) & VirtioPciDevice.STATUS_NEEDS_RESET).isNotZero();
        assertThat(common(0x15, 1)).isEqualTo(generation + 1);
        assertThat(common((int) VirtioPciDevice.ISR, 1) & 2).as("ISR config bit (INTx mode)").isEqualTo(2);
        common(0x14, 1, 0);
        assertThat(common(0x14, 1)).isZero();
    }

    @Test
    void barRewritesAndCommandChangesAreReportedForTheIoeventfds() {
        List<String> seen = new ArrayList<>();
        pci.onBarChange(() -> seen.add("bar"));
        pci.configWrite(PciConfigSpace.BAR0, 4, 0xd000_0000);
        pci.configWrite(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        pci.configWrite(PciConfigSpace.INTERRUPT_LINE, 1, 5);
        assertThat(seen).hasSize(2);
        assertThat(pci.notifyAddress(0)).isEqualTo(0xd000_0000L + VirtioPciDevice.NOTIFY);
    }

    @net.jqwik.api.Property(tries = 2000)
    void hostileBarAndConfigAccessesNeverThrow(@net.jqwik.api.ForAll @net.jqwik.api.constraints.LongRange(min = -8, max = 0x10008) long offset,
                                              @net.jqwik.api.ForAll("sizes") int size, @net.jqwik.api.ForAll long value) {
        RecordingDevice d = new RecordingDevice();
        VirtioPciDevice p = new VirtioPciDevice(d, (v, m) -> { }, l -> { });
        p.assignBar(0, 0xc000_0000L);
        p.barWrite(p.bar0(), offset, size, value);
        p.barRead(p.bar0(), offset, size);
        p.configWrite((int) (offset & 0xfff), Math.min(size, 4), (int) value);
        p.configRead((int) (offset & 0xfff), Math.min(size, 4));
    }

    @net.jqwik.api.Provide
    net.jqwik.api.Arbitrary<Integer> sizes() {
        return net.jqwik.api.Arbitraries.of(1, 2, 3, 4, 8);
    }
}
