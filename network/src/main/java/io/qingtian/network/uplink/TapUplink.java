package io.qingtian.network.uplink;

import io.qingtian.network.packet.EtherType;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.vswitch.FrameSink;
import io.qingtian.network.vswitch.Uplink;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.sys.Tun;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A host TAP device as a VPC's uplink: one platform thread reads frames from the TAP into
 * the switch; the switch writes frames for the host through {@link #transmit}. The TAP's
 * own MAC (the host side) is the uplink's initial next hop; the switch learns others.
 */
public final class TapUplink implements FrameSink, AutoCloseable {
    private static final int POLL_MILLIS = 100;

    private final Tun tun;
    private final VirtualSwitch sw;
    private final String vpc;
    private final Uplink uplink;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment txBuf = arena.allocate(EtherType.MAX_FRAME + 64);
    private final Thread reader;
    private volatile boolean running = true;

    private TapUplink(Tun tun, VirtualSwitch sw, String vpc) {
        this.tun = tun;
        this.sw = sw;
        this.vpc = vpc;
        this.uplink = sw.attachUplink(vpc, tun.name(), MacAddress.read(tun.hardwareAddress(), 0), this);
        this.reader = Thread.ofPlatform().daemon().name("tap-" + tun.name()).start(this::readLoop);
    }

    /** Opens (creating if needed) TAP {@code ifname} and attaches it to {@code vpc}. */
    public static TapUplink attach(VirtualSwitch sw, String vpc, String ifname) {
        Tun tun = Tun.openTap(ifname);
        try {
            return new TapUplink(tun, sw, vpc);
        } catch (RuntimeException e) {
            tun.close();
            throw e;
        }
    }

    public String interfaceName() {
        return tun.name();
    }

    public Uplink uplink() {
        return uplink;
    }

    @Override
    public synchronized boolean transmit(byte[] frame, int offset, int length) {
        if (!running || length > txBuf.byteSize()) {
            return false;
        }
        MemorySegment.copy(frame, offset, txBuf, ValueLayout.JAVA_BYTE, 0, length);
        return tun.write(txBuf.asSlice(0, length));
    }

    private void readLoop() {
        // Larger than any legal frame so an oversized one arrives whole and is counted as such.
        MemorySegment rx = arena.allocate(65536);
        byte[] frame = new byte[65536];
        while (running) {
            if (!tun.awaitReadable(POLL_MILLIS)) {
                continue;
            }
            int n;
            while (running && (n = tun.read(rx)) >= 0) {
                MemorySegment.copy(rx, ValueLayout.JAVA_BYTE, 0, frame, 0, n);
                sw.fromUplink(uplink, frame, n);
            }
        }
    }

    @Override
    public void close() {
        running = false;
        sw.detachUplink(vpc);
        try {
            reader.join(5 * POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            tun.close();
        }
        if (!reader.isAlive()) {
            arena.close();
        }
    }
}
