package io.qingtian.hypervisor.snapshot;

import static io.qingtian.hypervisor.snapshot.DeviceState.check;

import java.util.ArrayList;
import java.util.List;

/**
 * One virtio-pci function ({@code VirtioPciDevice}) with what its device needs to run on:
 * the PCI configuration space (BARs, command register, capabilities), the MSI-X table and
 * pending bits, the virtio common configuration (status, features, config generation,
 * queue registers: virtio 1.2 §4.1.4.3) and the ISR, plus each queue's ring position.
 *
 * <p>Ring positions: for a running queue, the index of the next available entry the device
 * will consume: the in-process virtio-rng's own counter, or for a vhost-user device what
 * the back-end answered to GET_VRING_BASE (which also stopped the ring). -1 for a queue
 * that is not running. The used index needs no record: it lives in guest memory.
 *
 * @param deviceType    virtio device ID (the restoring VM must have the same device here)
 * @param config        the 4 KiB configuration space
 * @param msixTable     4 dwords per vector
 * @param msixPending   the pending-bit array, 64 vectors per element
 * @param ringBases     per queue: the next avail index (0..65535), or -1
 */
public record VirtioPciState(int deviceType, byte[] config, boolean msixEnabled, boolean msixFunctionMasked,
                             int[] msixTable, long[] msixPending, int deviceFeatureSelect, int driverFeatureSelect,
                             long driverFeatures, int msixConfigVector, int status, int configGeneration,
                             int queueSelect, int isr, boolean activated, List<Queue> queues, int[] ringBases)
        implements DeviceState {
    public static final int VERSION = 1;
    public static final int CONFIG_SIZE = 4096;
    public static final int MAX_QUEUES = 1024;
    public static final int MAX_VECTORS = 2048;

    /** One queue's registers in the common configuration. */
    public record Queue(int size, int msixVector, boolean enabled, long desc, long driver, long device) {
        public Queue {
            check("queue size", size, 0, 32768);
            check("queue vector", msixVector, 0, 0xffff);
        }
    }

    public VirtioPciState {
        check("device type", deviceType, 1, 0xffff);
        check("config length", config.length, CONFIG_SIZE, CONFIG_SIZE);
        check("MSI-X table length", msixTable.length, 4, 4 * MAX_VECTORS);
        if (msixTable.length % 4 != 0) {
            throw new IllegalArgumentException("MSI-X table of " + msixTable.length + " dwords is not whole entries");
        }
        check("MSI-X PBA length", msixPending.length, (msixTable.length / 4 + 63) / 64, (msixTable.length / 4 + 63) / 64);
        check("msix config vector", msixConfigVector, 0, 0xffff);
        check("device status", status, 0, 0xff);
        check("queue select", queueSelect, 0, 0xffff);
        check("isr", isr, 0, 3);
        check("queue count", queues.size(), 1, MAX_QUEUES);
        check("ring base count", ringBases.length, queues.size(), queues.size());
        for (int b : ringBases) {
            check("ring base", b, -1, 0xffff);
        }
        config = config.clone();
        msixTable = msixTable.clone();
        msixPending = msixPending.clone();
        queues = List.copyOf(queues);
        ringBases = ringBases.clone();
    }

    @Override
    public byte[] config() {
        return config.clone();
    }

    @Override
    public int[] msixTable() {
        return msixTable.clone();
    }

    @Override
    public long[] msixPending() {
        return msixPending.clone();
    }

    @Override
    public int[] ringBases() {
        return ringBases.clone();
    }

    /** The same state with other ring positions (the device's answer at snapshot time). */
    public VirtioPciState withRingBases(int[] bases) {
        return new VirtioPciState(deviceType, config, msixEnabled, msixFunctionMasked, msixTable, msixPending,
                deviceFeatureSelect, driverFeatureSelect, driverFeatures, msixConfigVector, status, configGeneration,
                queueSelect, isr, activated, queues, bases);
    }

    @Override
    public int kind() {
        return KIND_VIRTIO_PCI;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public void encodeBody(StateWriter w) {
        w.i32(deviceType).bytes(config).bool(msixEnabled).bool(msixFunctionMasked).ints(msixTable).longs(msixPending)
                .i32(deviceFeatureSelect).i32(driverFeatureSelect).i64(driverFeatures).i32(msixConfigVector)
                .i32(status).i32(configGeneration).i32(queueSelect).i32(isr).bool(activated).i32(queues.size());
        for (Queue q : queues) {
            w.i32(q.size()).i32(q.msixVector()).bool(q.enabled()).i64(q.desc()).i64(q.driver()).i64(q.device());
        }
        w.ints(ringBases);
    }

    static VirtioPciState decodeBody(StateReader r, int version) {
        DeviceState.requireVersion(r, "virtio-pci", version, List.of(VERSION));
        int type = r.i32("device type");
        byte[] config = r.bytesExactly("config space", CONFIG_SIZE);
        boolean enabled = r.bool("MSI-X enable");
        boolean masked = r.bool("MSI-X function mask");
        int[] table = r.ints("MSI-X table", 4 * MAX_VECTORS);
        long[] pba = r.longs("MSI-X PBA", MAX_VECTORS / 64);
        int dfs = r.i32("device feature select");
        int drfs = r.i32("driver feature select");
        long features = r.i64("driver features");
        int cfgVector = r.i32("msix config vector");
        int status = r.i32("device status");
        int generation = r.i32("config generation");
        int select = r.i32("queue select");
        int isr = r.i32("isr");
        boolean activated = r.bool("activated");
        int n = r.i32("queue count");
        if (n < 1 || n > MAX_QUEUES) {
            throw r.bad("queue count " + n + " is outside 1.." + MAX_QUEUES);
        }
        List<Queue> queues = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            queues.add(new Queue(r.i32("queue size"), r.i32("queue vector"), r.bool("queue enable"),
                    r.i64("queue desc"), r.i64("queue driver"), r.i64("queue device")));
        }
        int[] bases = r.ints("ring bases", MAX_QUEUES);
        return new VirtioPciState(type, config, enabled, masked, table, pba, dfs, drfs, features, cfgVector, status,
                generation, select, isr, activated, queues, bases);
    }
}
