import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.FrameParser;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.packet.ParsedFrame;
import io.qingtian.network.vswitch.FrameBurst;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.util.List;

/**
 * Where the switch's time goes, without any I/O: ns per frame for (1) parsing/validation
 * alone, (2) the whole switch path (anti-spoofing, MAC table, egress + ingress conntrack,
 * security group, counters) into a sink that only counts, with the clock read once per
 * 64 frames, (3) the same in bursts ({@code fromPortBurst}, as the vhost-user transmit worker
 * hands frames over), and the bytes allocated per frame. {@code java SwitchMicro.java [SIZE]}.
 */
public class SwitchMicro {
    public static void main(String[] args) {
        int size = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("g");
        sw.addRule("g", SecurityRule.of("udp", null, "10.0.0.0/16"));
        Port a = sw.createPort("a", "s", null, MacAddress.parse("02:00:00:00:00:0a"), List.of("g"), null);
        Port b = sw.createPort("b", "s", null, MacAddress.parse("02:00:00:00:00:0b"), List.of("g"), null);
        long[] got = new long[1];
        sw.attach("a", (f, o, l) -> true);
        sw.attach("b", (f, o, l) -> { got[0]++; return true; });
        byte[] f = Frames.udp(a.mac(), b.mac(), a.ip(), b.ip(), 9, 9, new byte[Math.max(0, size - 42)]);
        // b speaks once so the MAC table knows it (no flooding in the loop).
        byte[] back = Frames.udp(b.mac(), a.mac(), b.ip(), a.ip(), 9, 9, new byte[0]);
        sw.fromPort(b, back, back.length);
        ParsedFrame p = new ParsedFrame();
        FrameBurst burst = new FrameBurst();
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        int n = 5_000_000;
        for (int round = 0; round < 3; round++) {
            long c0 = threads.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                FrameParser.parse(f, f.length, p);
            }
            long t1 = System.nanoTime();
            long c1 = threads.getCurrentThreadCpuTime();
            long bytes0 = threads.getCurrentThreadAllocatedBytes();
            long now = 0;
            for (int i = 0; i < n; i++) {
                if ((i & 63) == 0) {
                    now = sw.now(); // as the vhost-user transmit worker: one clock read per burst
                }
                sw.fromPort(a, f, f.length, now);
            }
            long t2 = System.nanoTime();
            long c2 = threads.getCurrentThreadCpuTime();
            long bytes = threads.getCurrentThreadAllocatedBytes() - bytes0;
            // The same frames in bursts (FrameBurst.MAX), as the vhost-user transmit worker hands them over.
            for (int i = 0; i < n / FrameBurst.MAX; i++) {
                while (!burst.isFull()) {
                    System.arraycopy(f, 0, burst.buffer(), 0, f.length);
                    burst.add(f.length);
                }
                sw.fromPortBurst(a, burst, true, sw.now());
            }
            long c3 = threads.getCurrentThreadCpuTime();
            // CPU time of this thread: robust against other load on the machine (wall time is not).
            System.out.printf("size %d: parse %.1f cpu_ns/frame, full switch path %.1f cpu_ns/frame "
                            + "(wall %.1f ns/frame), in bursts %.1f cpu_ns/frame (with the copy into the burst), "
                            + "allocated %.2f B/frame, delivered %d%n",
                    f.length, (c1 - c0) / (double) n, (c2 - c1) / (double) n, (t2 - t1) / (double) n,
                    (c3 - c2) / (double) (n / FrameBurst.MAX * FrameBurst.MAX), bytes / (double) n, got[0]);
        }
        System.out.println(sw.stats("a"));
    }
}
