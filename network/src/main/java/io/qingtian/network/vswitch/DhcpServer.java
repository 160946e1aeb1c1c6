package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Bytes;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import java.io.ByteArrayOutputStream;

/**
 * A DHCP server for one subnet (RFC 2131) that hands each port exactly the address the
 * control plane assigned to it: no pools, no leases to remember. The server identifier is
 * the subnet's gateway, which also is the router option.
 */
final class DhcpServer {
    static final int SERVER_PORT = 67;
    static final int CLIENT_PORT = 68;

    private DhcpServer() {}

    /** Builds the reply frame for {@code m} from {@code port}, or null if none is due. */
    static byte[] reply(DhcpMessage m, Port port) {
        Subnet s = port.subnet();
        int assigned = port.ip().bits();
        int type;
        switch (m.type()) {
            case DhcpMessage.DISCOVER -> type = DhcpMessage.OFFER;
            case DhcpMessage.REQUEST -> {
                if (m.serverId() != 0 && m.serverId() != s.gateway().bits()) {
                    return null; // the client chose another server
                }
                int wanted = m.requestedIp() != 0 ? m.requestedIp() : m.ciaddr();
                type = wanted == assigned ? DhcpMessage.ACK : DhcpMessage.NAK;
            }
            case DhcpMessage.INFORM -> type = DhcpMessage.ACK;
            default -> {
                return null; // DECLINE, RELEASE: nothing to answer, nothing to remember
            }
        }
        boolean inform = m.type() == DhcpMessage.INFORM;
        byte[] p = new byte[300];
        p[0] = DhcpMessage.BOOTREPLY;
        p[1] = 1;
        p[2] = 6;
        Bytes.put32(p, 4, m.xid());
        Bytes.put16(p, 10, m.flags() & 0x8000);
        Bytes.put32(p, 12, m.ciaddr());
        if (type != DhcpMessage.NAK && !inform) {
            Bytes.put32(p, 16, assigned);
        }
        Bytes.put32(p, 20, s.gateway().bits());
        Bytes.put48(p, 28, m.chaddr());
        Bytes.put32(p, 236, DhcpMessage.MAGIC);
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.write(DhcpMessage.OPT_MESSAGE_TYPE);
        o.write(1);
        o.write(type);
        opt32(o, DhcpMessage.OPT_SERVER_ID, s.gateway().bits());
        if (type != DhcpMessage.NAK) {
            if (!inform) {
                int lease = s.leaseSeconds();
                opt32(o, DhcpMessage.OPT_LEASE_TIME, lease);
                opt32(o, DhcpMessage.OPT_RENEWAL, lease / 2);
                opt32(o, DhcpMessage.OPT_REBINDING, (int) (lease * 7L / 8));
            }
            opt32(o, DhcpMessage.OPT_SUBNET_MASK, s.cidr().mask());
            opt32(o, DhcpMessage.OPT_BROADCAST, s.cidr().broadcast().bits());
            opt32(o, DhcpMessage.OPT_ROUTER, s.gateway().bits());
            if (s.dns() != null) {
                opt32(o, DhcpMessage.OPT_DNS, s.dns().bits());
            }
            o.write(DhcpMessage.OPT_MTU);
            o.write(2);
            o.write(1500 >>> 8);
            o.write(1500 & 0xff);
        }
        o.write(DhcpMessage.OPT_END);
        byte[] opts = o.toByteArray();
        System.arraycopy(opts, 0, p, DhcpMessage.FIXED_LEN, opts.length);
        // RFC 2131 §4.1: unicast to ciaddr if set; broadcast if the client asked or on NAK;
        // else unicast to yiaddr at chaddr (the client takes it on its raw socket).
        Ipv4Address dst;
        if (m.ciaddr() != 0 && type != DhcpMessage.NAK) {
            dst = new Ipv4Address(m.ciaddr());
        } else if ((m.flags() & 0x8000) != 0 || type == DhcpMessage.NAK) {
            dst = Ipv4Address.BROADCAST;
        } else {
            dst = port.ip();
        }
        MacAddress ethDst = dst.equals(Ipv4Address.BROADCAST) ? MacAddress.BROADCAST : port.mac();
        return Frames.udp(s.gatewayMac(), ethDst, s.gateway(), dst, SERVER_PORT, CLIENT_PORT, p);
    }

    private static void opt32(ByteArrayOutputStream o, int code, int v) {
        o.write(code);
        o.write(4);
        o.write(v >>> 24);
        o.write(v >>> 16);
        o.write(v >>> 8);
        o.write(v);
    }
}
