package io.qingtian.hypervisor.virtio;

import java.util.List;

/**
 * A virtio device behind a transport (virtio-pci here). The transport owns feature
 * negotiation, status and queue registers; the device supplies what is specific to it and
 * is started with the negotiated state once the driver sets DRIVER_OK.
 *
 * <p>Implementations: devices served by the card over vhost-user (the common case: the
 * device sets up the backend's rings and the data path bypasses this process) and the few
 * devices the hypervisor keeps in-process (virtio-rng).
 */
public interface VirtioDevice {
    /** Virtio device ID (1 net, 2 block, 4 entropy; virtio 1.2 §5). */
    int deviceType();

    /** Feature bits the device offers (including VIRTIO_F_VERSION_1). */
    long deviceFeatures();

    int queueCount();

    /** Largest queue size the device supports (a power of two). */
    int queueMaxSize();

    /** Reads device-specific configuration space (virtio 1.2 §4.1.4.6). */
    long readConfig(long offset, int size);

    void writeConfig(long offset, int size, long value);

    /**
     * Starts the device with the negotiated features and the enabled queues. Returns false
     * if the device cannot run (the transport then sets DEVICE_NEEDS_RESET).
     */
    boolean activate(long features, List<QueueConfig> queues, VirtioInterrupt interrupt);

    /** Stops the device; the driver wrote 0 to device_status. */
    void reset();

    /**
     * The driver notified queue {@code index} through an MMIO write that KVM did not turn
     * into an ioeventfd (none registered, or the device runs in this process).
     */
    void queueNotify(int index);

    /** Where the transport raises interrupts for in-process devices. */
    interface VirtioInterrupt {
        void queue(int index);

        void configChanged();

        /**
         * The device can no longer run (its backend went away, or a ring broke): the
         * transport sets DEVICE_NEEDS_RESET and raises a configuration interrupt
         * (virtio 1.2 §2.1.2); the driver's reset then starts over.
         */
        void needsReset();
    }
}
