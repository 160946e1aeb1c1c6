package io.qingtian.hypervisor.virtio;

import io.qingtian.hypervisor.pci.MsiMessage;
import io.qingtian.hypervisor.pci.MsixTable;
import io.qingtian.hypervisor.pci.PciBar;
import io.qingtian.hypervisor.pci.PciConfigSpace;
import io.qingtian.hypervisor.pci.PciFunction;
import io.qingtian.hypervisor.snapshot.SnapshotException;
import io.qingtian.hypervisor.snapshot.VirtioPciState;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * The virtio 1.x PCI transport (virtio 1.2 §4.1): a modern-only PCI function whose BAR 0
 * holds the common, ISR, device-specific and notify structures plus the MSI-X table, each
 * announced by a vendor-specific capability.
 *
 * <p>BAR 0 layout (64 KiB, 64-bit memory BAR):
 * <pre>
 *   0x0000 common configuration   0x1000 ISR status   0x2000 device configuration
 *   0x3000 notifications (4 bytes per queue)  0x8000 MSI-X table  0xC000 MSI-X PBA
 * </pre>
 * The notify address of queue q is {@code BAR0 + NOTIFY + 4q}; the hypervisor registers a
 * KVM ioeventfd there so a kick never exits to this process.
 */
public final class VirtioPciDevice extends PciFunction {
    private static final Logger LOG = Logger.getLogger(VirtioPciDevice.class.getName());

    public static final int VENDOR_VIRTIO = 0x1af4;
    public static final int DEVICE_ID_BASE = 0x1040;
    public static final long BAR_SIZE = 0x10000;
    public static final long COMMON = 0x0000;
    public static final long ISR = 0x1000;
    public static final long DEVICE_CONFIG = 0x2000;
    public static final long NOTIFY = 0x3000;
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    public static final long MSIX_TABLE = 0x8000;
    public static final long MSIX_PBA = 0xc000;
    private static final long REGION_SIZE = 0x1000;

    // virtio_pci_cap cfg_type values (§4.1.4)
    static final int CAP_COMMON = 1;
    static final int CAP_NOTIFY = 2;
    static final int CAP_ISR = 3;
    static final int CAP_DEVICE = 4;
    static final int CAP_PCI_CFG = 5;
    private static final int CAP_VENDOR = 0x09;

    // device_status bits (§2.1)
    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;

    public static final long VIRTIO_F_VERSION_1 = 1L << 32;

    // virtio_pci_common_cfg offsets (§4.1.4.3)
    static final int DEVICE_FEATURE_SELECT = 0x00;
    static final int DEVICE_FEATURE = 0x04;
    static final int DRIVER_FEATURE_SELECT = 0x08;
    static final int DRIVER_FEATURE = 0x0c;
    static final int MSIX_CONFIG = 0x10;
    static final int NUM_QUEUES = 0x12;
    static final int DEVICE_STATUS = 0x14;
    static final int CONFIG_GENERATION = 0x15;
    static final int QUEUE_SELECT = 0x16;
    static final int QUEUE_SIZE = 0x18;
    static final int QUEUE_MSIX_VECTOR = 0x1a;
    static final int QUEUE_ENABLE = 0x1c;
    static final int QUEUE_NOTIFY_OFF = 0x1e;
    static final int QUEUE_DESC = 0x20;
    static final int QUEUE_DRIVER = 0x28;
    static final int QUEUE_DEVICE = 0x30;
    static final int COMMON_SIZE = 0x38;

    private final VirtioDevice device;
    private final PciBar bar0 = new PciBar(0, BAR_SIZE, PciBar.Kind.MEMORY64, false);
    private final MsixTable msix;
    private final int msixCapOffset;
    private final int pciCfgCapOffset;
    private final IntConsumer intx;

    // Transport state, guarded by this.
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private int msixConfigVector = QueueConfig.NO_VECTOR;
    private int status;
    private int configGeneration;
    private int queueSelect;
    private final Queue[] queues;
    private int isr;
    private boolean activated;
    private volatile boolean warnedNotify;
    private volatile Runnable barListener = () -> { };

    private static final class Queue {
        final int max;
        int size;
        int msixVector = QueueConfig.NO_VECTOR;
        boolean enabled;
        long desc;
        long driver;
        long device;

        Queue(int max) {
            this.max = max;
            this.size = max;
        }
    }

    /**
     * @param device the device model
     * @param msixListener where MSI-X deliveries and route changes go (KVM GSI routing)
     * @param intx level of the legacy INTx line (1 asserted, 0 deasserted), used when the
     *             driver does not enable MSI-X
     */
    public VirtioPciDevice(VirtioDevice device, MsixTable.Listener msixListener, IntConsumer intx) {
        super(new PciConfigSpace(VENDOR_VIRTIO, DEVICE_ID_BASE + device.deviceType(), classCode(device.deviceType()),
                1, VENDOR_VIRTIO, DEVICE_ID_BASE + device.deviceType()));
        this.device = device;
        this.intx = intx;
        int qn = device.queueCount();
        if (qn < 1 || qn > (int) ((MSIX_TABLE - NOTIFY) / NOTIFY_OFF_MULTIPLIER)) {
            throw new IllegalArgumentException("unsupported queue count " + qn);
        }
        if (Integer.bitCount(device.queueMaxSize()) != 1 || device.queueMaxSize() > 32768) {
            throw new IllegalArgumentException("queue size must be a power of two <= 32768");
        }
        this.queues = new Queue[qn];
        for (int i = 0; i < qn; i++) {
            queues[i] = new Queue(device.queueMaxSize());
        }
        declareBar(bar0);
        config.set8(PciConfigSpace.INTERRUPT_PIN, 1); // INTA#
        addVirtioCap(CAP_COMMON, COMMON, COMMON_SIZE, null);
        addVirtioCap(CAP_ISR, ISR, 4, null);
        addVirtioCap(CAP_DEVICE, DEVICE_CONFIG, REGION_SIZE, null);
        addVirtioCap(CAP_NOTIFY, NOTIFY, (long) qn * NOTIFY_OFF_MULTIPLIER, NOTIFY_OFF_MULTIPLIER);
        this.msix = new MsixTable(qn + 1, msixListener);
        this.msixCapOffset = config.addCapability(MsixTable.CAP_ID, msix.capabilityBody(0, (int) MSIX_TABLE, (int) MSIX_PBA));
        config.mask16(msixCapOffset + 2, MsixTable.CONTROL_ENABLE | MsixTable.CONTROL_FUNCTION_MASK);
        // VIRTIO_PCI_CAP_PCI_CFG: a window into the BARs through config space (§4.1.4.9).
        this.pciCfgCapOffset = addVirtioCap(CAP_PCI_CFG, 0, 0, null);
        config.mask8(pciCfgCapOffset + 4, 0xff);          // bar
        config.mask32(pciCfgCapOffset + 8, 0xffff_ffff);  // offset
        config.mask32(pciCfgCapOffset + 12, 0xffff_ffff); // length
        config.mask32(pciCfgCapOffset + 16, 0xffff_ffff); // pci_cfg_data
    }

    private static int classCode(int type) {
        return switch (type) {
            case 1 -> 0x020000; // network controller
            case 2 -> 0x018000; // mass storage, other
            default -> 0xff0000; // unassigned class
        };
    }

    private int addVirtioCap(int type, long offset, long length, Integer notifyMultiplier) {
        byte[] body = new byte[(notifyMultiplier != null ? 18 : 14) + (type == CAP_PCI_CFG ? 4 : 0)];
        body[0] = (byte) (body.length + 2); // cap_len includes ID and next
        body[1] = (byte) type;
        body[2] = 0; // bar
        putInt(body, 6, (int) offset);
        putInt(body, 10, (int) length);
        if (notifyMultiplier != null) {
            putInt(body, 14, notifyMultiplier);
        }
        return config.addCapability(CAP_VENDOR, body);
    }

    public VirtioDevice device() {
        return device;
    }

    public MsixTable msix() {
        return msix;
    }

    public PciBar bar0() {
        return bar0;
    }

    /** Guest-physical address of queue {@code q}'s notify register (for the ioeventfd). */
    public long notifyAddress(int q) {
        return barAddress(bar0) + NOTIFY + (long) q * NOTIFY_OFF_MULTIPLIER;
    }

    public synchronized int status() {
        return status;
    }

    /** Called after the guest rewrote BAR 0 or the command register (ioeventfds follow the BAR). */
    public void onBarChange(Runnable listener) {
        this.barListener = listener;
    }

    public boolean msixEnabled() {
        return msix.enabled();
    }

    /** Whether the driver has set DRIVER_OK and the device is running. */
    public synchronized boolean activated() {
        return activated;
    }

    @Override
    protected void configWritten(int offset, int size) {
        if (overlaps(offset, size, PciConfigSpace.BAR0, 8) || overlaps(offset, size, PciConfigSpace.COMMAND, 2)) {
            barListener.run();
        }
        if (overlaps(offset, size, msixCapOffset + 2, 2)) {
            msix.controlWritten(config.get16(msixCapOffset + 2));
            updateIntx();
        }
        if (overlaps(offset, size, pciCfgCapOffset + 16, 4)) {
            int bar = config.get8(pciCfgCapOffset + 4);
            int len = config.get32(pciCfgCapOffset + 12);
            if (bar == 0 && (len == 1 || len == 2 || len == 4)) {
                barWrite(bar0, config.get32(pciCfgCapOffset + 8) & 0xffff_ffffL, len, config.get32(pciCfgCapOffset + 16));
            }
        }
    }

    @Override
    public int configRead(int offset, int size) {
        if (overlaps(offset, size, pciCfgCapOffset + 16, 4)) {
            int bar = config.get8(pciCfgCapOffset + 4);
            int len = config.get32(pciCfgCapOffset + 12);
            if (bar == 0 && (len == 1 || len == 2 || len == 4)) {
                config.set32(pciCfgCapOffset + 16, (int) barRead(bar0, config.get32(pciCfgCapOffset + 8) & 0xffff_ffffL, len));
            }
        }
        return super.configRead(offset, size);
    }

    @Override
    public long barRead(PciBar bar, long offset, int size) {
        if (offset >= COMMON && offset < COMMON + COMMON_SIZE) {
            return readCommon((int) offset, size);
        }
        if (offset >= ISR && offset < ISR + 4) {
            return readIsr();
        }
        if (offset >= DEVICE_CONFIG && offset < DEVICE_CONFIG + REGION_SIZE) {
            return device.readConfig(offset - DEVICE_CONFIG, size);
        }
        if (offset >= MSIX_TABLE && offset < MSIX_TABLE + msix.tableBytes()) {
            return msix.readTable(offset - MSIX_TABLE, size);
        }
        if (offset >= MSIX_PBA && offset < MSIX_PBA + msix.pbaBytes()) {
            return msix.readPba(offset - MSIX_PBA, size);
        }
        return 0;
    }

    @Override
    public void barWrite(PciBar bar, long offset, int size, long value) {
        if (offset >= COMMON && offset < COMMON + COMMON_SIZE) {
            writeCommon((int) offset, size, value);
        } else if (offset >= DEVICE_CONFIG && offset < DEVICE_CONFIG + REGION_SIZE) {
            device.writeConfig(offset - DEVICE_CONFIG, size, value);
        } else if (offset >= NOTIFY && offset < NOTIFY + (long) queues.length * NOTIFY_OFF_MULTIPLIER) {
            int q = (int) ((offset - NOTIFY) / NOTIFY_OFF_MULTIPLIER);
            boolean live;
            synchronized (this) {
                live = activated && queues[q].enabled;
            }
            if (live) {
                device.queueNotify(q);
            } else if (!warnedNotify) {
                // §4.1.4.4: drivers notify only enabled queues of a live device; drop it.
                warnedNotify = true;
                LOG.warning("virtio device type " + device.deviceType() + ": notify of queue " + q
                        + " which is not enabled/live; ignored (logged once)");
            }
        } else if (offset >= MSIX_TABLE && offset < MSIX_TABLE + msix.tableBytes()) {
            msix.writeTable(offset - MSIX_TABLE, size, value);
        }
    }

    private synchronized long readCommon(int off, int size) {
        Queue q = queueSelect < queues.length ? queues[queueSelect] : null;
        long v = switch (off) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
            case DEVICE_FEATURE -> deviceFeatureSelect < 2 ? (device.deviceFeatures() >>> (32 * deviceFeatureSelect)) & 0xffff_ffffL : 0;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect;
            case DRIVER_FEATURE -> driverFeatureSelect < 2 ? (driverFeatures >>> (32 * driverFeatureSelect)) & 0xffff_ffffL : 0;
            case MSIX_CONFIG -> msixConfigVector;
            case NUM_QUEUES -> queues.length;
            case DEVICE_STATUS -> status;
            case CONFIG_GENERATION -> configGeneration & 0xff;
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> q == null ? 0 : q.size;
            case QUEUE_MSIX_VECTOR -> q == null ? QueueConfig.NO_VECTOR : q.msixVector;
            case QUEUE_ENABLE -> q != null && q.enabled ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> q == null ? 0 : queueSelect;
            case QUEUE_DESC -> q == null ? 0 : q.desc;
            case QUEUE_DESC + 4 -> q == null ? 0 : q.desc >>> 32;
            case QUEUE_DRIVER -> q == null ? 0 : q.driver;
            case QUEUE_DRIVER + 4 -> q == null ? 0 : q.driver >>> 32;
            case QUEUE_DEVICE -> q == null ? 0 : q.device;
            case QUEUE_DEVICE + 4 -> q == null ? 0 : q.device >>> 32;
            default -> 0;
        };
        return size == 8 ? v : v & ((1L << (8 * size)) - 1);
    }

    private void writeCommon(int off, int size, long value) {
        boolean activate = false;
        boolean reset = false;
        synchronized (this) {
            Queue q = queueSelect < queues.length ? queues[queueSelect] : null;
            // Queue registers may only change before DRIVER_OK (§4.1.4.3.2); ignore later writes.
            boolean queueWritable = q != null && (status & STATUS_DRIVER_OK) == 0;
            switch (off) {
                case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = (int) value;
                case DRIVER_FEATURE_SELECT -> driverFeatureSelect = (int) value;
                case DRIVER_FEATURE -> {
                    if ((status & STATUS_FEATURES_OK) == 0 && driverFeatureSelect < 2) {
                        int shift = 32 * driverFeatureSelect;
                        driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((value & 0xffff_ffffL) << shift);
                    }
                }
                case MSIX_CONFIG -> msixConfigVector = vectorOrNone((int) value & 0xffff);
                case DEVICE_STATUS -> {
                    int s = (int) value & 0xff;
                    if (s == 0) {
                        reset = true;
                    } else {
                        if ((s & STATUS_FEATURES_OK) != 0 && (status & STATUS_FEATURES_OK) == 0
                                && !featuresAcceptable()) {
                            s &= ~STATUS_FEATURES_OK; // §3.1.1: device refuses the subset
                        }
                        status = s | (status & STATUS_NEEDS_RESET);
                        activate = (s & STATUS_DRIVER_OK) != 0 && !activated;
                    }
                }
                case QUEUE_SELECT -> queueSelect = (int) value & 0xffff;
                case QUEUE_SIZE -> {
                    int n = (int) value & 0xffff;
                    // Split rings need a power of two no larger than the maximum (§2.7).
                    if (queueWritable && n > 0 && n <= q.max && Integer.bitCount(n) == 1) {
                        q.size = n;
                    } else if (queueWritable) {
                        LOG.warning("ignoring invalid queue size " + n + " for queue " + queueSelect);
                    }
                }
                case QUEUE_MSIX_VECTOR -> {
                    if (queueWritable) {
                        q.msixVector = vectorOrNone((int) value & 0xffff);
                    }
                }
                case QUEUE_ENABLE -> {
                    if (queueWritable && (value & 1) == 1) {
                        q.enabled = true;
                    }
                }
                case QUEUE_DESC -> { if (queueWritable) { q.desc = low(q.desc, value, size); } }
                case QUEUE_DESC + 4 -> { if (queueWritable) { q.desc = high(q.desc, value); } }
                case QUEUE_DRIVER -> { if (queueWritable) { q.driver = low(q.driver, value, size); } }
                case QUEUE_DRIVER + 4 -> { if (queueWritable) { q.driver = high(q.driver, value); } }
                case QUEUE_DEVICE -> { if (queueWritable) { q.device = low(q.device, value, size); } }
                case QUEUE_DEVICE + 4 -> { if (queueWritable) { q.device = high(q.device, value); } }
                default -> { }
            }
        }
        if (reset) {
            resetTransport();
        } else if (activate) {
            activateDevice();
        }
    }

    private boolean featuresAcceptable() {
        return (driverFeatures & ~device.deviceFeatures()) == 0 && (driverFeatures & VIRTIO_F_VERSION_1) != 0;
    }

    private int vectorOrNone(int v) {
        // A vector beyond the table reads back as NO_VECTOR so the driver sees the failure (§4.1.5.1.2).
        return v < msix.size() ? v : QueueConfig.NO_VECTOR;
    }

    private void activateDevice() {
        List<QueueConfig> enabled = new ArrayList<>();
        long features;
        synchronized (this) {
            features = driverFeatures;
            for (int i = 0; i < queues.length; i++) {
                Queue q = queues[i];
                if (q.enabled) {
                    enabled.add(new QueueConfig(i, q.size, q.desc, q.driver, q.device, q.msixVector));
                }
            }
            activated = true;
        }
        boolean ok;
        try {
            ok = device.activate(features, enabled, new Interrupts());
        } catch (RuntimeException e) {
            LOG.warning("virtio device type " + device.deviceType() + " failed to activate: " + e.getMessage());
            ok = false;
        }
        if (!ok) {
            synchronized (this) {
                status |= STATUS_NEEDS_RESET;
                configGeneration++;
            }
            signalConfigChange();
        }
    }

    private void resetTransport() {
        boolean wasActive;
        synchronized (this) {
            wasActive = activated;
            activated = false;
            status = 0;
            driverFeatures = 0;
            deviceFeatureSelect = 0;
            driverFeatureSelect = 0;
            msixConfigVector = QueueConfig.NO_VECTOR;
            queueSelect = 0;
            isr = 0;
            for (int i = 0; i < queues.length; i++) {
                queues[i] = new Queue(queues[i].max);
            }
        }
        updateIntx();
        if (wasActive) {
            device.reset();
        }
    }

    private long readIsr() {
        int v;
        synchronized (this) {
            v = isr;
            isr = 0; // reading ISR clears it and deasserts INTx (§4.1.4.5)
        }
        updateIntx();
        return v;
    }

    private void signalQueue(int index) {
        int vector;
        synchronized (this) {
            vector = index < queues.length ? queues[index].msixVector : QueueConfig.NO_VECTOR;
            isr |= 1;
        }
        if (msix.enabled()) {
            msix.trigger(vector);
        } else {
            updateIntx();
        }
    }

    private void signalConfigChange() {
        int vector;
        synchronized (this) {
            vector = msixConfigVector;
            isr |= 2;
        }
        if (msix.enabled()) {
            msix.trigger(vector);
        } else {
            updateIntx();
        }
    }

    private void updateIntx() {
        boolean level;
        synchronized (this) {
            level = isr != 0 && !msix.enabled() && !config.commandBit(PciConfigSpace.COMMAND_INTX_DISABLE);
        }
        intx.accept(level ? 1 : 0);
    }

    private final class Interrupts implements VirtioDevice.VirtioInterrupt {
        @Override
        public void queue(int index) {
            signalQueue(index);
        }

        @Override
        public void configChanged() {
            synchronized (VirtioPciDevice.this) {
                configGeneration++;
            }
            signalConfigChange();
        }

        @Override
        public void needsReset() {
            synchronized (VirtioPciDevice.this) {
                if ((status & STATUS_NEEDS_RESET) != 0) {
                    return;
                }
                status |= STATUS_NEEDS_RESET;
                configGeneration++;
            }
            signalConfigChange();
        }
    }

    /** The message an MSI-X vector currently carries (for irqfd GSI routes). */
    public MsiMessage msixMessage(int vector) {
        return msix.message(vector);
    }

    private static long low(long old, long value, int size) {
        return size == 8 ? value : (old & 0xffff_ffff_0000_0000L) | (value & 0xffff_ffffL);
    }

    private static long high(long old, long value) {
        return (old & 0xffff_ffffL) | ((value & 0xffff_ffffL) << 32);
    }

    private static boolean overlaps(int off, int size, int regOff, int regSize) {
        return off < regOff + regSize && regOff < off + size;
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
        b[at + 2] = (byte) (v >>> 16);
        b[at + 3] = (byte) (v >>> 24);
    }

    // ---- snapshot (issue 8) ----

    private List<QueueConfig> enabledQueues() {
        List<QueueConfig> enabled = new ArrayList<>();
        for (int i = 0; i < queues.length; i++) {
            Queue q = queues[i];
            if (q.enabled) {
                enabled.add(new QueueConfig(i, q.size, q.desc, q.driver, q.device, q.msixVector));
            }
        }
        return enabled;
    }

    /**
     * The function's state for a snapshot (the VM is paused). A running device's rings are
     * stopped and their positions recorded; {@link #resumeAfterSnapshot} restarts them.
     */
    public VirtioPciState saveState() {
        VirtioPciState s;
        List<QueueConfig> running;
        synchronized (this) {
            List<VirtioPciState.Queue> qs = new ArrayList<>();
            for (Queue q : queues) {
                qs.add(new VirtioPciState.Queue(q.size, q.msixVector, q.enabled, q.desc, q.driver, q.device));
            }
            int[] none = new int[queues.length];
            java.util.Arrays.fill(none, -1);
            s = new VirtioPciState(device.deviceType(), config.saveBytes(), msix.enabled(), msix.functionMasked(),
                    msix.saveTable(), msix.savePending(), deviceFeatureSelect, driverFeatureSelect, driverFeatures,
                    msixConfigVector, status, configGeneration & 0xff, queueSelect, isr, activated, qs, none);
            running = activated ? enabledQueues() : List.of();
        }
        if (running.isEmpty()) {
            return s;
        }
        if (!(device instanceof SnapshottableVirtioDevice d)) {
            throw new SnapshotException("virtio device type " + device.deviceType() + " cannot save its queues");
        }
        return s.withRingBases(d.saveRings(queues.length, running));
    }

    /** After a snapshot of a VM that continues: the rings stopped by {@link #saveState} run again. */
    public void resumeAfterSnapshot() {
        boolean running;
        synchronized (this) {
            running = activated;
        }
        if (running && device instanceof SnapshottableVirtioDevice d) {
            d.resumeRings();
        }
    }

    /**
     * Takes over a saved state in a freshly built VM (before its vCPUs run): config space,
     * MSI-X (which re-programs the KVM routes), transport registers, then the device is
     * activated on the saved queues at the saved ring positions. A snapshot whose device does
     * not match this function is refused with a {@link SnapshotException} before anything changes.
     */
    public void restoreState(VirtioPciState s) {
        if (s.deviceType() != device.deviceType() || s.queues().size() != queues.length
                || s.msixTable().length != 4 * msix.size()) {
            throw new SnapshotException("snapshot has virtio device type " + s.deviceType() + " with "
                    + s.queues().size() + " queues and " + s.msixTable().length / 4 + " MSI-X vectors where this VM has type "
                    + device.deviceType() + " with " + queues.length + " queues and " + msix.size());
        }
        for (int i = 0; i < queues.length; i++) {
            VirtioPciState.Queue q = s.queues().get(i);
            boolean sizeOk = q.size() > 0 && q.size() <= queues[i].max && Integer.bitCount(q.size()) == 1;
            if (!sizeOk) {
                throw new SnapshotException("snapshot queue " + i + " has size " + q.size()
                        + " (this device allows powers of two up to " + queues[i].max + ")");
            }
        }
        List<QueueConfig> enabled;
        synchronized (this) {
            config.restoreBytes(s.config());
            deviceFeatureSelect = s.deviceFeatureSelect();
            driverFeatureSelect = s.driverFeatureSelect();
            driverFeatures = s.driverFeatures();
            msixConfigVector = vectorOrNone(s.msixConfigVector());
            status = s.status();
            configGeneration = s.configGeneration();
            queueSelect = s.queueSelect();
            isr = s.isr();
            for (int i = 0; i < queues.length; i++) {
                VirtioPciState.Queue q = s.queues().get(i);
                Queue mine = queues[i];
                mine.size = q.size();
                mine.msixVector = vectorOrNone(q.msixVector());
                mine.enabled = q.enabled();
                mine.desc = q.desc();
                mine.driver = q.driver();
                mine.device = q.device();
            }
            activated = s.activated();
            enabled = activated ? enabledQueues() : List.of();
        }
        msix.restoreState(s.msixEnabled(), s.msixFunctionMasked(), s.msixTable(), s.msixPending());
        barListener.run();
        if (s.activated()) {
            boolean ok;
            try {
                ok = device instanceof SnapshottableVirtioDevice d
                        && d.activateRestored(s.driverFeatures(), enabled, new Interrupts(), s.ringBases());
            } catch (RuntimeException e) {
                LOG.warning("virtio device type " + device.deviceType() + " failed to resume from the snapshot: " + e.getMessage());
                ok = false;
            }
            if (!ok) {
                synchronized (this) {
                    status |= STATUS_NEEDS_RESET;
                    configGeneration++;
                }
                signalConfigChange();
            }
        }
        updateIntx();
    }
}
