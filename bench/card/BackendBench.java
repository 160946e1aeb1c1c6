import io.qingtian.card.crypto.AesXts;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.card.volume.VolumeMeta;
import io.qingtian.virtio.blk.BlockBackend;
import io.qingtian.vhostuser.frontend.VirtioBlkDriver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.LongAdder;

/**
 * The card's storage backends, measured in-process (no VM): plain vs AES-XTS volumes (and the
 * raw XTS engine), 4 KiB random and 128 KiB sequential reads and writes with 1 and 2 worker
 * threads (one per queue, as the vhost-user workers do), and QoS accuracy (measured vs
 * configured IOPS and bytes/s). Then the same plain/encrypted pair through the real
 * vhost-user-blk export, driven by the vhost-user module's VirtioBlkDriver at queue depth 1.
 *
 * Run with bench/card/run.sh. Env: SECONDS_PER_ROW (default 3), VOLUME_MB (default 256).
 */
public class BackendBench {
    static final int SECONDS = Integer.parseInt(System.getenv().getOrDefault("SECONDS_PER_ROW", "3"));
    static final long VOLUME = Long.parseLong(System.getenv().getOrDefault("VOLUME_MB", "256")) << 20;

    /**
     * mbps is the mean over the run; p50mbps = bytes / median latency per worker thread times the
     * threads: on a shared, overloaded machine the mean is dominated by preemption, the median
     * is the cost of the code path.
     */
    record Row(String name, double iops, double mbps, double p50us, double p99us, double p50mbps) {}

    interface Op {
        void run(int thread, long op) throws Exception;
    }

    static Row measure(String name, int threads, int bytes, Op op) throws Exception {
        // warm-up (JIT, page cache), then the measured run
        run(threads, Math.max(1, SECONDS / 3), op, null);
        List<long[]> lat = new ArrayList<>();
        long ops = run(threads, SECONDS, op, lat);
        long[] all = lat.stream().flatMapToLong(Arrays::stream).filter(v -> v > 0).sorted().toArray();
        double iops = ops / (double) SECONDS;
        double p50 = all[all.length / 2] / 1e3;
        return new Row(name, iops, iops * bytes / 1e6, p50, all[(int) (all.length * 0.99)] / 1e3, threads * bytes / p50);
    }

    static long run(int threads, int seconds, Op op, List<long[]> latencies) throws Exception {
        LongAdder count = new LongAdder();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<Thread> ts = new ArrayList<>();
        List<Exception> errors = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            long[] lat = new long[4_000_000];
            if (latencies != null) {
                latencies.add(lat);
            }
            ts.add(Thread.ofPlatform().start(() -> {
                try {
                    int n = 0;
                    for (long i = 0; System.nanoTime() < end; i++) {
                        long t0 = System.nanoTime();
                        op.run(id, i);
                        if (n < lat.length) {
                            lat[n++] = System.nanoTime() - t0;
                        }
                        count.increment();
                    }
                } catch (Exception e) {
                    synchronized (errors) {
                        errors.add(e);
                    }
                }
            }));
        }
        for (Thread t : ts) {
            t.join();
        }
        if (!errors.isEmpty()) {
            throw errors.get(0);
        }
        return count.sum();
    }

    static void print(Row r) {
        System.out.printf("%-38s %8.0f IOPS %8.1f MB/s  p50 %8.1f us  p99 %8.1f us  p50-MB/s %8.1f%n", r.name, r.iops, r.mbps,
                r.p50us, r.p99us, r.p50mbps);
    }

    /** One workload: a name, its transfer size and how to run it on a backend. */
    record Workload(String name, int threads, int bytes, java.util.function.Function<BlockBackend, Op> op) {}

    static List<Workload> workloads(Arena arena, boolean durable) {
        MemorySegment[] bufs = new MemorySegment[2];
        for (int i = 0; i < 2; i++) {
            bufs[i] = arena.allocate(128 << 10, 4096);
            for (long o = 0; o < bufs[i].byteSize(); o += 8) {
                bufs[i].set(java.lang.foreign.ValueLayout.JAVA_LONG, o, (o + i) * 0x9E3779B97F4A7C15L);
            }
        }
        long sectors4k = VOLUME / 4096;
        long chunks128k = VOLUME / (128 << 10);
        List<Workload> w = new ArrayList<>();
        for (int threads : new int[] {1, 2}) {
            int th = threads;
            w.add(new Workload("4K randwrite  T" + th, th, 4096, b -> {
                Random[] rnd = {new Random(1), new Random(2)};
                return (t, i) -> b.write(rnd[t].nextLong(sectors4k) * 4096, bufs[t].asSlice(0, 4096));
            }));
            w.add(new Workload("4K randread   T" + th, th, 4096, b -> {
                Random[] rnd = {new Random(1), new Random(2)};
                return (t, i) -> b.read(rnd[t].nextLong(sectors4k) * 4096, bufs[t].asSlice(0, 4096));
            }));
            w.add(new Workload("128K seqwrite T" + th, th, 128 << 10,
                    b -> (t, i) -> b.write(((i * th + t) % chunks128k) * (128 << 10), bufs[t])));
            w.add(new Workload("128K seqread  T" + th, th, 128 << 10,
                    b -> (t, i) -> b.read(((i * th + t) % chunks128k) * (128 << 10), bufs[t])));
            if (durable) {
                w.add(new Workload("128K write+flush T" + th, th, 128 << 10, b -> (t, i) -> {
                    b.write(((i * th + t) % chunks128k) * (128 << 10), bufs[t]);
                    b.flush();
                }));
            }
        }
        return w;
    }

    /** Runs every workload on the plain and then the encrypted backend, back to back (fair under drifting load). */
    static void compare(String plainLabel, BlockBackend plain, String encLabel, BlockBackend enc, List<Workload> ws) throws Exception {
        for (Workload w : ws) {
            Row p = measure(plainLabel + " " + w.name(), w.threads(), w.bytes(), w.op().apply(plain));
            Row e = measure(encLabel + " " + w.name(), w.threads(), w.bytes(), w.op().apply(enc));
            print(p);
            print(e);
            System.out.printf("%-38s ratio encrypted/plain: mean %.2f, p50 %.2f%n", "", e.mbps / p.mbps, e.p50mbps / p.p50mbps);
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("qt-card-bench");
 System.out.println("load average at start: " + java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        System.out.println("card backend benchmark: " + SECONDS + " s per row, volume " + (VOLUME >> 20) + " MiB, "
                + Runtime.getRuntime().availableProcessors() + " CPUs, " + System.getProperty("java.vm.version"));
        byte[] key = new byte[64];
        new Random(5).nextBytes(key);
        try (CardDaemon card = CardDaemon.start(new StateDir(dir.resolve("state")), Exporters.vhostUser());
                Arena arena = Arena.ofShared()) {
            VolumeManager vm = card.volumes();
            vm.create(new VolumeManager.CreateSpec("plain", VOLUME, false, null, null, null));
            vm.create(new VolumeManager.CreateSpec("secret", VOLUME, true, key, null, null));
            vm.create(new VolumeManager.CreateSpec("qos-iops", VOLUME, false, null, null, new VolumeMeta.Qos(2000, 0, 0, 0)));
            vm.create(new VolumeManager.CreateSpec("qos-bw", VOLUME, false, null, null, new VolumeMeta.Qos(0, 0, 20L << 20, 0)));
            // Fill both so reads hit allocated blocks (sparse holes would flatter the read rows).
            for (String v : List.of("plain", "secret")) {
                try (BlockBackend b = vm.openBackend(v, false)) {
                    MemorySegment fill = arena.allocate(1 << 20, 4096);
                    for (long o = 0; o < VOLUME; o += fill.byteSize()) {
                        b.write(o, fill);
                    }
                    b.flush();
                }
            }

            // The XTS engine alone (no I/O): the ceiling of the encrypted path on this CPU.
            AesXts xts = new AesXts(key);
            byte[] buf = new byte[64 << 10];
            print(measure("aes-xts engine 64K encrypt            T1", 1, buf.length, (t, i) -> xts.encrypt(i, buf, 0, buf.length)));

            System.out.println("\n== backend (in-process, page cache) ==");
            try (BlockBackend p = vm.openBackend("plain", false); BlockBackend e = vm.openBackend("secret", false)) {
                compare("plain  ", p, "aes-xts", e, workloads(arena, true));
            }

            System.out.println("\n== remote volumes on qemu-nbd (loopback TCP), plain vs aes-xts ==");
            List<Process> servers = new ArrayList<>();
            try {
                for (String v : List.of("nbd-plain", "nbd-secret")) {
                    Path img = dir.resolve(v + ".img");
                    try (var f = new java.io.RandomAccessFile(img.toFile(), "rw")) {
                        f.setLength(VOLUME);
                    }
                    int port;
                    try (var ss = new java.net.ServerSocket(0)) {
                        port = ss.getLocalPort();
                    }
                    servers.add(new ProcessBuilder("qemu-nbd", "-f", "raw", "-x", v, "-b", "127.0.0.1", "-p", "" + port,
                            "-e", "8", "-t", "--cache=writeback", img.toString()).redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
                    for (int tries = 0; ; tries++) {
                        try (var probe = new java.net.Socket("127.0.0.1", port)) {
                            break;
                        } catch (java.io.IOException e) {
                            if (tries > 100) throw e;
                            Thread.sleep(50);
                        }
                    }
                    vm.create(new VolumeManager.CreateSpec(v, VOLUME, v.endsWith("secret"), v.endsWith("secret") ? key : null,
                            io.qingtian.card.nbd.NbdTarget.parse("127.0.0.1:" + port + "/" + v), null));
                }
                try (BlockBackend p = vm.openBackend("nbd-plain", false); BlockBackend e = vm.openBackend("nbd-secret", false)) {
                    compare("nbd plain  ", p, "nbd aes-xts", e, workloads(arena, false));
                }
            } finally {
                for (Process p : servers) {
                    p.destroy();
                    p.waitFor();
                }
            }

            System.out.println("\n== QoS accuracy (2 threads, limits enforced by token buckets) ==");
            try (BlockBackend b = vm.openBackend("qos-iops", false)) {
                MemorySegment[] bufs = {arena.allocate(4096, 4096), arena.allocate(4096, 4096)};
                Row r = measure("qos --iops 2000, 4K randread", 2, 4096, (t, i) -> b.read((i % 1000) * 4096, bufs[t]));
                print(r);
                System.out.printf("%-38s measured/limit: %.3f%n", "", r.iops / 2000);
            }
            try (BlockBackend b = vm.openBackend("qos-bw", false)) {
                MemorySegment[] bufs = {arena.allocate(128 << 10, 4096), arena.allocate(128 << 10, 4096)};
                Row r = measure("qos --bandwidth 20M, 128K seqread", 2, 128 << 10, (t, i) -> b.read((i % 100) * (128 << 10), bufs[t]));
                print(r);
                System.out.printf("%-38s measured/limit: %.3f%n", "", r.mbps * 1e6 / (20 << 20));
            }

            System.out.println("\n== through vhost-user-blk (card export + VirtioBlkDriver front-end, QD1, 1 queue) ==");
            for (String v : List.of("plain", "secret")) {
                Path sock = dir.resolve(v + ".sock");
                vm.export(v, sock, 1, false);
                try (VirtioBlkDriver d = VirtioBlkDriver.connect(sock, VirtioBlkDriver.Options.defaults())) {
                    byte[] b4 = new byte[4096];
                    byte[] b128 = new byte[128 << 10];
                    Random rnd = new Random(3);
                    long sectors = VOLUME / 512;
                    print(measure(v + " vhost 4K randread QD1", 1, 4096, (t, i) -> check(d.read(0, (rnd.nextLong(sectors / 8)) * 8, b4))));
                    print(measure(v + " vhost 4K randwrite QD1", 1, 4096, (t, i) -> check(d.write(0, (rnd.nextLong(sectors / 8)) * 8, b4))));
                    print(measure(v + " vhost 128K seqread QD1", 1, 128 << 10, (t, i) -> check(d.read(0, (i % (VOLUME / (128 << 10))) * 256, b128))));
                    print(measure(v + " vhost 128K seqwrite QD1", 1, 128 << 10, (t, i) -> check(d.write(0, (i % (VOLUME / (128 << 10))) * 256, b128))));
                }
                vm.unexport(v);
            }
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static void check(int status) {
        if (status != 0) {
            throw new IllegalStateException("virtio-blk status " + status);
        }
    }
}
