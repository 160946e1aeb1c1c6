package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Bytes;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.IpProto;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A simulated guest behind one port: builds frames as the guest would and records what it receives. */
final class TestNic implements FrameSink {
    final VirtualSwitch sw;
    final Port port;
    final List<byte[]> received = new ArrayList<>();

    TestNic(VirtualSwitch sw, Port port) {
        this.sw = sw;
        this.port = port;
        sw.attach(port.name(), this);
    }

    @Override
    public boolean transmit(byte[] frame, int offset, int length) {
        received.add(Arrays.copyOfRange(frame, offset, offset + length));
        return true;
    }

    MacAddress mac() {
        return port.mac();
    }

    Ipv4Address ip() {
        return port.ip();
    }

    MacAddress gwMac() {
        return port.subnet().gatewayMac();
    }

    void send(byte[] f) {
        sw.fromPort(port, f, f.length);
    }

    /** Sends to {@code dst} at L2 if in the same subnet (using its MAC) else via the gateway MAC. */
    void sendIcmp(TestNic dst, int type, int id) {
        send(Frames.icmpEcho(mac(), nextHop(dst), ip(), dst.ip(), type, id, 1, new byte[] {1, 2, 3, 4}));
    }

    void sendTcp(TestNic dst, int srcPort, int dstPort, int flags) {
        send(Frames.tcp(mac(), nextHop(dst), ip(), dst.ip(), srcPort, dstPort, 1000, 0, flags, new byte[0]));
    }

    void sendUdp(TestNic dst, int srcPort, int dstPort, byte[] payload) {
        send(Frames.udp(mac(), nextHop(dst), ip(), dst.ip(), srcPort, dstPort, payload));
    }

    MacAddress nextHop(TestNic dst) {
        return dst.port.subnet() == port.subnet() ? dst.mac() : gwMac();
    }

    ParsedFrame last() {
        byte[] f = received.getLast();
        ParsedFrame p = new ParsedFrame();
        if (FrameParser.parse(f, f.length, p) != null) {
            throw new AssertionError("switch emitted an invalid frame");
        }
        return p;
    }

    /** Received TCP segments to {@code dstPort}. */
    long tcpTo(int dstPort) {
        return received.stream().filter(f -> {
            ParsedFrame p = new ParsedFrame();
            return FrameParser.parse(f, f.length, p) == null && p.isIpv4() && p.protocol == IpProto.TCP
                    && p.dstPort == dstPort;
        }).count();
    }

    int u16(int off) {
        return Bytes.u16(received.getLast(), off);
    }
}
