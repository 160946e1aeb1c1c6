package io.qingtian.network.vswitch;

import io.qingtian.network.packet.Bytes;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.ParsedFrame;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metadata endpoint, 169.254.169.254:80, answered inside the switch by a minimal TCP
 * responder: accept, read one HTTP/1.x GET request, send one response with FIN, close.
 *
 * <p>Why in the switch rather than NAT to a host HTTP server: the switch sees frames, not
 * sockets, so NAT to a loopback server would need a TAP device or a user-space TCP stack on
 * the host side anyway; and here the answer is keyed by the port the SYN arrived on, which
 * anti-spoofing has already tied to one instance, with no host resources to exhaust.
 *
 * <p>The TCP is deliberately small: no window management (requests and responses are a
 * few hundred bytes), in-order data only, and retransmission driven by the guest — a
 * retransmitted request or FIN makes us resend what is unacknowledged.
 */
final class MetadataResponder {
    static final int HTTP_PORT = 80;
    private static final int MAX_CONNECTIONS = 256;
    private static final int MAX_REQUEST = 4096;
    private static final int SEGMENT = 1200;

    private static final class Conn {
        long iss;
        long rcvNxt;
        final StringBuilder request = new StringBuilder();
        byte[] response;
        boolean finReceived;
        int mss = 536;
    }

    /** Keyed by port identity and the guest's TCP source port. */
    private final Map<Port, Map<Integer, Conn>> conns = new LinkedHashMap<>();
    private long issSeed = 0x5eed_0000L;
    private int open;

    /** Handles one TCP segment to the metadata address; returns frames to send back. */
    List<byte[]> segment(Port port, ParsedFrame p) {
        List<byte[]> out = new ArrayList<>(2);
        byte[] d = p.data;
        int l4 = p.l4Offset;
        long seq = Bytes.i32(d, l4 + 4) & 0xffffffffL;
        long ack = Bytes.i32(d, l4 + 8) & 0xffffffffL;
        int flags = p.tcpFlags;
        int payOff = p.payloadOffset();
        int payLen = p.payloadLength();
        Map<Integer, Conn> byPort = conns.computeIfAbsent(port, k -> new LinkedHashMap<>());
        Conn c = byPort.get(p.srcPort);
        if ((flags & FrameParser.TCP_RST) != 0) {
            if (c != null) {
                byPort.remove(p.srcPort);
                open--;
            }
            return out;
        }
        if (p.dstPort != HTTP_PORT) {
            out.add(rst(port, p, seq, payLen, flags));
            return out;
        }
        if ((flags & FrameParser.TCP_SYN) != 0 && (flags & FrameParser.TCP_ACK) == 0) {
            if (c == null) {
                if (open >= MAX_CONNECTIONS) {
                    return out; // guest will retry; never grow without bound
                }
                c = new Conn();
                c.iss = (issSeed += 0x10_0000) & 0xffffffffL;
                c.rcvNxt = (seq + 1) & 0xffffffffL;
                c.mss = Math.min(SEGMENT, mssOption(d, l4, p.payloadOffset()));
                byPort.put(p.srcPort, c);
                open++;
            }
            out.add(seg(port, p, c.iss, c.rcvNxt, FrameParser.TCP_SYN | FrameParser.TCP_ACK, new byte[0]));
            return out;
        }
        if (c == null) {
            out.add(rst(port, p, seq, payLen, flags));
            return out;
        }
        boolean advanced = false;
        if (payLen > 0) {
            if (seq == c.rcvNxt && c.response == null) {
                if (c.request.length() + payLen > MAX_REQUEST) {
                    byPort.remove(p.srcPort);
                    open--;
                    out.add(rst(port, p, seq, payLen, flags));
                    return out;
                }
                c.request.append(new String(d, payOff, payLen, StandardCharsets.ISO_8859_1));
                c.rcvNxt = (c.rcvNxt + payLen) & 0xffffffffL;
                advanced = true;
            }
        }
        if ((flags & FrameParser.TCP_FIN) != 0 && ((seq + payLen) & 0xffffffffL) == c.rcvNxt && !c.finReceived) {
            c.finReceived = true;
            c.rcvNxt = (c.rcvNxt + 1) & 0xffffffffL;
            advanced = true;
        }
        if (c.response == null && c.request.indexOf("\r\n\r\n") >= 0) {
            c.response = MetadataHttp.respond(c.request.toString(), InstanceIdentity.of(port))
                    .getBytes(StandardCharsets.UTF_8);
            sendResponse(port, p, c, out, c.iss + 1);
            return out;
        }
        long sndEnd = c.response == null ? c.iss + 1 : c.iss + 1 + c.response.length + 1;
        if (c.response != null && ((ack - (c.iss + 1)) & 0xffffffffL) < ((sndEnd - (c.iss + 1)) & 0xffffffffL)
                && (payLen > 0 || (flags & FrameParser.TCP_FIN) != 0) && !advanced) {
            // The guest retransmitted: our data or FIN may be lost. Resend from its ACK.
            sendResponse(port, p, c, out, ack);
            return out;
        }
        if (advanced) {
            out.add(seg(port, p, c.response == null ? c.iss + 1 : sndEnd, c.rcvNxt, FrameParser.TCP_ACK, new byte[0]));
        }
        if (c.finReceived && c.response != null && ((ack - sndEnd) & 0xffffffffL) == 0) {
            byPort.remove(p.srcPort);
            open--;
        }
        return out;
    }

    /** Forgets the connections of a removed port. */
    void forget(Port port) {
        Map<Integer, Conn> m = conns.remove(port);
        if (m != null) {
            open -= m.size();
        }
    }

    private void sendResponse(Port port, ParsedFrame p, Conn c, List<byte[]> out, long from) {
        long base = c.iss + 1;
        int start = (int) ((from - base) & 0xffffffffL);
        if (start > c.response.length) {
            start = c.response.length;
        }
        for (int off = start; off < c.response.length; off += c.mss) {
            int n = Math.min(c.mss, c.response.length - off);
            byte[] chunk = new byte[n];
            System.arraycopy(c.response, off, chunk, 0, n);
            boolean last = off + n == c.response.length;
            int fl = FrameParser.TCP_ACK | FrameParser.TCP_PSH | (last ? FrameParser.TCP_FIN : 0);
            out.add(seg(port, p, base + off, c.rcvNxt, fl, chunk));
        }
        if (start == c.response.length) {
            out.add(seg(port, p, base + start, c.rcvNxt, FrameParser.TCP_ACK | FrameParser.TCP_FIN, new byte[0]));
        }
    }

    private static int mssOption(byte[] d, int l4, int end) {
        for (int i = l4 + 20; i < end; ) {
            int kind = d[i] & 0xff;
            if (kind == 0) {
                break;
            }
            if (kind == 1) {
                i++;
                continue;
            }
            if (i + 1 >= end) {
                break;
            }
            int len = d[i + 1] & 0xff;
            if (len < 2 || i + len > end) {
                break;
            }
            if (kind == 2 && len == 4) {
                return Math.max(64, Bytes.u16(d, i + 2));
            }
            i += len;
        }
        return 536;
    }

    private static byte[] seg(Port port, ParsedFrame p, long seq, long ack, int flags, byte[] payload) {
        Subnet s = port.subnet();
        return Frames.tcp(s.gatewayMac(), port.mac(), Ipv4Address.METADATA, port.ip(), HTTP_PORT, p.srcPort,
                seq, ack, flags, payload);
    }

    private static byte[] rst(Port port, ParsedFrame p, long seq, int payLen, int flags) {
        long ack = seq + payLen + ((flags & FrameParser.TCP_SYN) != 0 ? 1 : 0) + ((flags & FrameParser.TCP_FIN) != 0 ? 1 : 0);
        Subnet s = port.subnet();
        return Frames.tcp(s.gatewayMac(), port.mac(), Ipv4Address.METADATA, port.ip(), p.dstPort, p.srcPort,
                0, ack, FrameParser.TCP_RST | FrameParser.TCP_ACK, new byte[0]);
    }
}
