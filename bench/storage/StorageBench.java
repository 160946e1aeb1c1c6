import static io.qingtian.virtio.blk.VirtioBlk.*;

import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver.Options;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Drives a vhost-user-blk back-end as the guest would (our harness: shared memfd memory,
 * split rings, eventfds) and prints one line per workload:
 * {@code LABEL WORKLOAD IOPS MBPS P50_US P99_US SERVER_CPU_US_PER_IO}. The last column (CPU time
 * the back-end process spent per request, from /proc/PID/stat, -1 when QT_BENCH_SERVER_PID is
 * unset) is robust against a busy machine, unlike the throughput columns.
 *
 * <p>{@code java StorageBench.java SOCKET LABEL SECONDS}
 */
public class StorageBench {
    record Workload(String name, int type, int bytes, int depth, boolean sequential) {}

    static final Workload[] WORKLOADS = {
            new Workload("randread-4k-qd1", VIRTIO_BLK_T_IN, 4096, 1, false),
            new Workload("randwrite-4k-qd1", VIRTIO_BLK_T_OUT, 4096, 1, false),
            new Workload("randread-4k-qd32", VIRTIO_BLK_T_IN, 4096, 32, false),
            new Workload("randwrite-4k-qd32", VIRTIO_BLK_T_OUT, 4096, 32, false),
            new Workload("seqread-128k-qd8", VIRTIO_BLK_T_IN, 128 * 1024, 8, true),
            new Workload("seqwrite-128k-qd8", VIRTIO_BLK_T_OUT, 128 * 1024, 8, true),
    };

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        String label = args[1];
        double seconds = Double.parseDouble(args[2]);
        String only = args.length > 3 ? args[3] : null;
        Options o = new Options(1, 256, 32, 128 * 1024, false, true, 30_000);
        try (VirtioBlkDriver d = VirtioBlkDriver.connect(socket, o)) {
            long sectors = d.config().capacitySectors();
            for (Workload w : WORKLOADS) {
                if (only != null && !w.name().contains(only)) {
                    continue;
                }
                run(d, w, sectors, 1.0, null);
                long[] lat = new long[4_000_000];
                long cpu0 = serverCpuTicks();
                double[] res = run(d, w, sectors, seconds, lat);
                long cpu1 = serverCpuTicks();
                double cpuPerIo = cpu0 < 0 ? -1 : (cpu1 - cpu0) * 1e6 / 100.0 / res[4];
                System.out.printf("%s %s %.0f %.1f %.1f %.1f %.2f%n", label, w.name(), res[0], res[1], res[2], res[3], cpuPerIo);
            }
        }
    }

    /** utime+stime of the server process in clock ticks (USER_HZ = 100), or -1. */
    static long serverCpuTicks() throws Exception {
        String pid = System.getenv("QT_BENCH_SERVER_PID");
        if (pid == null || pid.isEmpty()) {
            return -1;
        }
        String stat = java.nio.file.Files.readString(Path.of("/proc", pid, "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** Runs one workload for {@code seconds}; returns IOPS, MB/s, p50 µs, p99 µs, requests. */
    static double[] run(VirtioBlkDriver d, Workload w, long sectors, double seconds, long[] lat) throws Exception {
        SplittableRandom rnd = new SplittableRandom(42);
        long blocks = sectors * 512 / w.bytes();
        long[] started = new long[32];
        int[] done = new int[32];
        for (int s = 0; s < 32; s++) {
            MemorySegment buf = d.slotData(0, s);
            buf.asSlice(0, w.bytes()).fill((byte) (s + 1));
        }
        long seq = 0;
        long n = 0;
        int inflight = 0;
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        while (true) {
            long now = System.nanoTime();
            boolean stop = now >= end;
            while (!stop && inflight < w.depth()) {
                long block = w.sequential() ? (seq++ % blocks) : rnd.nextLong(blocks);
                int slot = d.submit(0, w.type(), block * (w.bytes() / 512), w.bytes());
                started[slot] = System.nanoTime();
                inflight++;
            }
            d.kick(0);
            if (inflight == 0) {
                break;
            }
            int k = d.reap(0, done);
            long t = System.nanoTime();
            for (int i = 0; i < k; i++) {
                int status = d.slotStatus(0, done[i]);
                if (status != VIRTIO_BLK_S_OK) {
                    throw new IllegalStateException(w.name() + ": status " + status);
                }
                if (lat != null && n < lat.length) {
                    lat[(int) n] = t - started[done[i]];
                }
                n++;
            }
            inflight -= k;
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        double iops = n / elapsed;
        double p50 = 0;
        double p99 = 0;
        if (lat != null) {
            long[] l = Arrays.copyOf(lat, (int) Math.min(n, lat.length));
            Arrays.sort(l);
            p50 = l[l.length / 2] / 1e3;
            p99 = l[(int) (l.length * 0.99)] / 1e3;
        }
        return new double[] {iops, iops * w.bytes() / 1e6, p50, p99, n};
    }
}
