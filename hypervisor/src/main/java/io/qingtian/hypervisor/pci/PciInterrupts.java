package io.qingtian.hypervisor.pci;

import io.qingtian.kvm.IrqRoute;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
import io.qingtian.sys.Poll;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * Interrupts of the PCI devices on KVM's in-kernel irqchip.
 *
 * <p>GSI allocation:
 * <ul>
 *   <li>0-23: the IOAPIC pins (0-15 also the PIC pins), KVM's default routes, kept as they are;
 *   <li>16-23: PCI INTx, INTA of slot s on GSI {@code 16 + s % 8} (the DSDT's {@code _PRT}
 *       says so), driven level-triggered with KVM_IRQ_LINE when MSI-X is off;
 *   <li>24 and up: one GSI per MSI-X vector of every device, allocated at build time in
 *       device order. Each carries a KVM MSI route equal to the vector's table entry
 *       (KVM_SET_GSI_ROUTING, rewritten whenever the guest reprograms an entry), so an irqfd
 *       bound to the GSI — the card's call eventfd — injects exactly the message the guest
 *       asked for, without this process.
 * </ul>
 *
 * <p>Masking (PCI 3.0 §6.8.2.9: a masked vector must not send, its PBA bit is set instead and
 * it sends when unmasked). In-process deliveries go through {@link MsixTable}, which keeps
 * its own pending bits. Interrupts from outside this process (the card's call eventfds,
 * bound with {@link #attachIrqfd}) are held back with KVM's own irqfd semantics, as Cloud
 * Hypervisor does for vfio/vhost-user: while the vector may not fire (entry masked, function
 * masked, MSI-X disabled or no valid message) its irqfds are deassigned, so a signal only
 * counts up in the eventfd, which reads as the vector's PBA bit; on unmask they are assigned
 * again and KVM injects at once if the eventfd was signalled meanwhile (kvm_irqfd_assign
 * polls it). Deassigning does not lose anything: while assigned, every signal was injected.
 * An entry whose address is not in the 0xFEEx_xxxx interrupt window is a bogus message: it
 * gets no route (nothing is injected), logged once per device.
 */
public final class PciInterrupts implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PciInterrupts.class.getName());
    public static final int IOAPIC_PINS = 24;
    public static final int FIRST_INTX_GSI = 16;
    public static final int INTX_GSIS = 8;
    public static final int FIRST_MSI_GSI = 24;
    /** KVM_MAX_IRQ_ROUTES on x86. */
    public static final int MAX_GSI = 4096;
    private static final long MSI_ADDRESS_MASK = 0xfff0_0000L;
    private static final long MSI_ADDRESS_BASE = 0xfee0_0000L;

    private final KvmVm vm;
    private final Map<Integer, IrqRoute.Msi> msiRoutes = new TreeMap<>();
    private final List<Vectors> all = new ArrayList<>();
    private List<IrqRoute> lastTable;
    private int nextGsi = FIRST_MSI_GSI;

    public PciInterrupts(KvmVm vm) {
        this.vm = vm;
    }

    /** The GSI of INTA..INTD ({@code pin} 0..3) of device {@code slot}, swizzled as on a PC. */
    public static int intxGsi(int slot, int pin) {
        return FIRST_INTX_GSI + ((slot + pin) % INTX_GSIS);
    }

    /** A level-triggered INTx line of {@code slot} (pin INTA). */
    public IntConsumer intx(int slot) {
        int gsi = intxGsi(slot, 0);
        return level -> vm.irqLine(gsi, level != 0);
    }

    /** GSIs (and in-process trigger eventfds) for {@code count} MSI-X vectors of one device. */
    public synchronized Vectors allocate(String device, int count) {
        if (nextGsi + count > MAX_GSI) {
            throw new IllegalStateException("out of GSIs for " + device + "'s " + count + " MSI-X vectors");
        }
        Vectors v = new Vectors(device, nextGsi, count);
        nextGsi += count;
        all.add(v);
        return v;
    }

    /** The full routing table: KVM's default irqchip routes, then every routable MSI vector. */
    public synchronized List<IrqRoute> routingTable() {
        List<IrqRoute> t = new ArrayList<>();
        for (int gsi = 0; gsi < IOAPIC_PINS; gsi++) {
            t.add(new IrqRoute.Irqchip(gsi, IrqRoute.IOAPIC, gsi));
            if (gsi < 16) {
                t.add(new IrqRoute.Irqchip(gsi, gsi < 8 ? IrqRoute.PIC_MASTER : IrqRoute.PIC_SLAVE, gsi % 8));
            }
        }
        t.addAll(msiRoutes.values());
        return t;
    }

    /** Installs the table if it changed (the guest writes table entries a dword at a time). */
    private synchronized void update() {
        List<IrqRoute> t = routingTable();
        if (!t.equals(lastTable)) {
            vm.setGsiRouting(t);
            lastTable = t;
        }
    }

    /** Writes the initial table (only the irqchip routes until the guest enables MSI-X). */
    public void install() {
        update();
    }

    @Override
    public synchronized void close() {
        for (Vectors v : all) {
            v.close();
        }
        all.clear();
    }

    /**
     * Binds {@code eventFd} to MSI {@code gsi} (one of {@link Vectors#gsi}): KVM injects the
     * vector's message when it is signalled, but only while the vector may fire (see above).
     * Other GSIs are bound directly. {@code eventFd} must be non-blocking (EFD_NONBLOCK): on
     * unmask its stale count is read away, racing with KVM's own read.
     */
    public void attachIrqfd(int eventFd, int gsi) {
        Vectors v = owner(gsi);
        if (v == null) {
            vm.registerIrqfd(eventFd, gsi);
        } else {
            v.attach(gsi - v.firstGsi, eventFd);
        }
    }

    /** Undoes {@link #attachIrqfd}; the eventfd is no longer KVM's when this returns. */
    public void detachIrqfd(int eventFd, int gsi) {
        Vectors v = owner(gsi);
        if (v == null) {
            vm.unregisterIrqfd(eventFd, gsi);
        } else {
            v.detach(gsi - v.firstGsi, eventFd);
        }
    }

    private synchronized Vectors owner(int gsi) {
        for (Vectors v : all) {
            if (gsi >= v.firstGsi && gsi < v.firstGsi + v.count()) {
                return v;
            }
        }
        return null;
    }

    static boolean validMsiAddress(long address) {
        return (address & MSI_ADDRESS_MASK) == MSI_ADDRESS_BASE && (address >>> 32) == 0;
    }

    /** One device's vectors: their GSIs, KVM routes, and an eventfd per vector for in-process delivery. */
    public final class Vectors implements MsixTable.Listener, AutoCloseable {
        private final String device;
        private final int firstGsi;
        private final int[] triggerFds;
        private final EventFd signaller = new EventFd();
        private boolean warned;
        /** Per vector: the attached irqfds (eventfds from outside), guarded by this. */
        private final List<List<Integer>> irqfds = new ArrayList<>();
        /** Per vector: whether the attached irqfds are assigned in KVM now (the vector may fire). */
        private final boolean[] live;

        Vectors(String device, int firstGsi, int count) {
            this.device = device;
            this.firstGsi = firstGsi;
            this.live = new boolean[count];
            for (int i = 0; i < count; i++) {
                irqfds.add(new ArrayList<>());
            }
            this.triggerFds = new int[count];
            for (int i = 0; i < count; i++) {
                triggerFds[i] = -1;
            }
            try {
                for (int i = 0; i < count; i++) {
                    triggerFds[i] = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
                    vm.registerIrqfd(triggerFds[i], firstGsi + i);
                }
            } catch (LinuxException e) {
                close();
                throw e;
            }
        }

        public int count() {
            return triggerFds.length;
        }

        /** The GSI of {@code vector}; irqfds bound to it inject the vector's current message. */
        public int gsi(int vector) {
            if (vector < 0 || vector >= triggerFds.length) {
                throw new IllegalArgumentException(device + " has no MSI-X vector " + vector);
            }
            return firstGsi + vector;
        }

        @Override
        public void deliver(int vector, MsiMessage message) {
            if (vector < 0 || vector >= triggerFds.length) {
                return;
            }
            synchronized (this) {
                signaller.signal(triggerFds[vector]);
            }
        }

        /** Binds an outside eventfd to {@code vector}; assigned in KVM while the vector may fire. */
        synchronized void attach(int vector, int eventFd) {
            if (live[vector]) {
                vm.registerIrqfd(eventFd, firstGsi + vector);
            }
            irqfds.get(vector).add(eventFd);
        }

        synchronized void detach(int vector, int eventFd) {
            if (irqfds.get(vector).remove(Integer.valueOf(eventFd)) && live[vector]) {
                vm.unregisterIrqfd(eventFd, firstGsi + vector);
            }
        }

        /** Whether an attached eventfd was signalled while the vector could not fire. */
        @Override
        public boolean pending(int vector) {
            if (vector < 0 || vector >= triggerFds.length) {
                return false;
            }
            int[] fds;
            synchronized (this) {
                if (live[vector] || irqfds.get(vector).isEmpty()) {
                    return false;
                }
                fds = irqfds.get(vector).stream().mapToInt(Integer::intValue).toArray();
            }
            try {
                return Poll.waitReadable(fds, 0) >= 0;
            } catch (LinuxException e) {
                return false;
            }
        }

        /**
         * Assigns or deassigns the vector's irqfds. After assigning, KVM has injected whatever
         * was pending (or injects on the next signal); the stale count it leaves in the
         * eventfd is read away so the PBA does not show it the next time the vector is masked.
         */
        private synchronized void setLive(int vector, boolean fire) {
            if (live[vector] == fire) {
                return;
            }
            int gsi = firstGsi + vector;
            for (int fd : irqfds.get(vector)) {
                try {
                    if (fire) {
                        vm.registerIrqfd(fd, gsi);
                        if (Poll.waitReadable(new int[] {fd}, 0) == 0) {
                            signaller.consume(fd); // polled first: never blocks on a blocking eventfd
                        }
                    } else {
                        vm.unregisterIrqfd(fd, gsi);
                    }
                } catch (LinuxException e) {
                    LOG.warning(device + ": KVM_IRQFD " + (fire ? "assign" : "deassign") + " for MSI-X vector "
                            + vector + " failed: " + e.getMessage());
                }
            }
            live[vector] = fire;
        }

        @Override
        public void routeChanged(int vector, MsiMessage message, boolean usable) {
            if (vector < 0 || vector >= triggerFds.length) {
                return;
            }
            boolean fire = usable && validMsiAddress(message.address());
            if (!fire) {
                setLive(vector, false); // before the route changes: nothing injects the old message now
            }
            int gsi = firstGsi + vector;
            synchronized (PciInterrupts.this) {
                if (validMsiAddress(message.address())) {
                    msiRoutes.put(gsi, new IrqRoute.Msi(gsi, message.address(), message.data()));
                } else {
                    if (message.address() != 0 && !warned) {
                        warned = true;
                        LOG.warning(device + ": MSI-X vector " + vector + " has a bogus address 0x"
                                + Long.toHexString(message.address()) + "; it is not routed (logged once)");
                    }
                    msiRoutes.remove(gsi);
                }
                try {
                    update();
                } catch (LinuxException e) {
                    msiRoutes.remove(gsi);
                    fire = false;
                    LOG.warning(device + ": KVM refused the route of MSI-X vector " + vector + ": " + e.getMessage());
                }
            }
            if (fire) {
                setLive(vector, true); // after the route carries the new message
            }
        }

        @Override
        public synchronized void close() {
            for (int i = 0; i < triggerFds.length; i++) {
                setLive(i, false);
                irqfds.get(i).clear();
                if (triggerFds[i] >= 0) {
                    try {
                        vm.unregisterIrqfd(triggerFds[i], firstGsi + i);
                    } catch (LinuxException ignored) {
                        // VM already gone
                    }
                    Libc.closeQuietly(triggerFds[i]);
                    triggerFds[i] = -1;
                }
            }
        }
    }
}
