package io.qingtian.hypervisor.pci;

import io.qingtian.kvm.IrqRoute;
import io.qingtian.kvm.KvmVm;
import io.qingtian.sys.EventFd;
import io.qingtian.sys.Libc;
import io.qingtian.sys.LinuxException;
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
 * <p>Masking: KVM routes cannot hold a pending bit, so a vector's route stays in place while
 * the guest masks it (Linux masks only around reprogramming the message). In-process
 * deliveries go through {@link MsixTable}, which does honour mask and pending bits.
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

        Vectors(String device, int firstGsi, int count) {
            this.device = device;
            this.firstGsi = firstGsi;
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

        @Override
        public void routeChanged(int vector, MsiMessage message, boolean usable) {
            if (vector < 0 || vector >= triggerFds.length) {
                return;
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
                    LOG.warning(device + ": KVM refused the route of MSI-X vector " + vector + ": " + e.getMessage());
                }
            }
        }

        @Override
        public synchronized void close() {
            for (int i = 0; i < triggerFds.length; i++) {
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
