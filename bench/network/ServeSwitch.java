import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.vhostuser.VhostUserNetServer;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.VirtualSwitch;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Our virtual switch in its own process with two vNICs exported over vhost-user-net, for
 * DPDK testpmd to drive: {@code java ServeSwitch.java DIR}. Sockets DIR/a.sock and DIR/b.sock;
 * NIC a = 10.0.1.2 02:00:00:00:00:0a, NIC b = 10.0.1.3 02:00:00:00:00:0b, one subnet,
 * security group "bench" allowing UDP from the VPC on b (so every frame passes the SG and
 * connection tracking). Prints the ports' counters on exit (SIGTERM/SIGINT), and with
 * {@code -Dstats.ms=N} every N ms a line {@code cpu <data path threads' CPU ns> <frames from a> <to b> <dropped>}
 * from which run.sh derives the switch's CPU time per frame.
 */
public class ServeSwitch {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        VirtualSwitch sw = new VirtualSwitch();
        sw.createVpc("bench", Cidr.parse("10.0.0.0/16"), "bench");
        sw.createSubnet("s", "bench", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("bench");
        sw.addRule("bench", SecurityRule.of("udp", null, "10.0.0.0/16"));
        sw.createPort("a", "s", Ipv4Address.parse("10.0.1.2"), MacAddress.parse("02:00:00:00:00:0a"), List.of("bench"), null);
        sw.createPort("b", "s", Ipv4Address.parse("10.0.1.3"), MacAddress.parse("02:00:00:00:00:0b"), List.of("bench"), null);
        VhostUserNetServer a = VhostUserNetServer.start(sw, sw.port("a"), dir.resolve("a.sock"));
        VhostUserNetServer b = VhostUserNetServer.start(sw, sw.port("b"), dir.resolve("b.sock"));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("a: " + sw.stats("a"));
            System.err.println("b: " + sw.stats("b"));
            a.close();
            b.close();
            done.countDown();
        }));
        System.err.println("serving " + a.socketPath() + " and " + b.socketPath());
        long period = Long.getLong("stats.ms", 0);
        var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        var workerCpu = new java.util.HashMap<Long, Long>();
        while (period > 0 && !done.await(period, java.util.concurrent.TimeUnit.MILLISECONDS)) {
            var sa = sw.stats("a");
            var sb = sw.stats("b");
            long drops = sb.drops().values().stream().mapToLong(Long::longValue).sum();
            // The data path's threads only (ring workers): not the JIT warming up or the GC. A
            // worker ends with its connection: its last reading stays in the sum.
            for (var t : mx.getThreadInfo(mx.getAllThreadIds())) {
                if (t != null && t.getThreadName().startsWith("vhost-user-net:")) {
                    long c = mx.getThreadCpuTime(t.getThreadId());
                    if (c > 0) {
                        workerCpu.put(t.getThreadId(), c);
                    }
                }
            }
            long cpu = workerCpu.values().stream().mapToLong(Long::longValue).sum();
            System.err.println("cpu " + cpu + " " + sa.rxPackets() + " " + sb.txPackets() + " " + drops);
        }
        done.await();
    }
}
