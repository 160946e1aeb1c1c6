import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.card.api.ControlPlane;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.instance.HypervisorLauncher;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;

/** See run.sh. A card in this JVM on a temp state dir; the client is java.net.http over loopback. */
public class ApiBench {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    static String endpoint;
    static String token;

    static HttpResponse<String> call(String method, String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(endpoint + path)).header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    static String pct(long[] ns) {
        Arrays.sort(ns);
        return String.format("p50 %.3f ms  p99 %.3f ms  max %.3f ms  (n=%d)", ns[ns.length / 2] / 1e6,
                ns[(int) (ns.length * 0.99)] / 1e6, ns[ns.length - 1] / 1e6, ns.length);
    }

    public static void main(String[] args) throws Exception {
        Path dist = Path.of(args[0]);
        int reads = Integer.getInteger("reads", Integer.parseInt(System.getenv().getOrDefault("READS", "2000")));
        int creates = Integer.parseInt(System.getenv().getOrDefault("CREATES", "300"));
        int launches = Integer.parseInt(System.getenv().getOrDefault("LAUNCHES", "5"));
        Path tmp = Files.createTempDirectory("qt-bench-control");
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx--x--x"));
        Path state = tmp.resolve("state");
        Files.createDirectories(state.resolve("images"));
        Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx--x--x"));
        Files.write(state.resolve("images/tiny.bzImage"), tinyKernel());
        try (CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser(), new ControlPlane.Options(null,
                null, "127.0.0.1", 0, HypervisorLauncher.dist(dist), 643_000))) {
            endpoint = card.plane().endpoint();
            token = Files.readString(state.resolve("control/admin.token")).trim();
            token = JSON.readTree(call("POST", "/v1/tenants", "{\"name\":\"bench\"}").body()).get("token").asText();
            for (int i = 0; i < 20; i++) {
                call("POST", "/v1/volumes", "{\"name\":\"seed" + i + "\",\"size\":\"1M\"}");
            }
            for (int i = 0; i < 500; i++) { // warm-up (JIT)
                call("GET", "/v1/volumes", null);
            }
            long[] r = new long[reads];
            for (int i = 0; i < reads; i++) {
                long t = System.nanoTime();
                HttpResponse<String> h = call("GET", "/v1/volumes", null);
                r[i] = System.nanoTime() - t;
                if (h.statusCode() != 200) throw new AssertionError(h.body());
            }
            System.out.println("read   GET  /v1/volumes (20 volumes):   " + pct(r));
            long[] c = new long[creates];
            for (int i = 0; i < creates; i++) {
                long t = System.nanoTime();
                HttpResponse<String> h = call("POST", "/v1/volumes", "{\"name\":\"v" + i + "\",\"size\":\"1M\"}");
                c[i] = System.nanoTime() - t;
                if (h.statusCode() != 201) throw new AssertionError(h.body());
            }
            System.out.println("create POST /v1/volumes (1 MiB, fsync'd): " + pct(c));
            long[] l = new long[launches];
            for (int i = 0; i < launches; i++) {
                long t = System.nanoTime();
                HttpResponse<String> h = call("POST", "/v1/instances",
                        "{\"name\":\"i" + i + "\",\"kernel\":\"tiny.bzImage\",\"memoryMib\":64}");
                long created = System.nanoTime() - t;
                if (h.statusCode() != 201) throw new AssertionError(h.body());
                while (!call("GET", "/v1/instances/i" + i + "/console", null).body().contains("@!")) {
                    Thread.sleep(2);
                    if (System.nanoTime() - t > 60e9) throw new AssertionError("no console output");
                }
                l[i] = System.nanoTime() - t;
                System.out.printf("launch i%d: API answered (process started) %.1f ms, first guest console bytes %.1f ms%n",
                        i, created / 1e6, l[i] / 1e6);
                call("DELETE", "/v1/instances/i" + i, null);
            }
            System.out.println("launch-to-running (POST -> guest console): " + pct(l));
            lifecycle(state);
        }
    }

    /**
     * The lifecycle routes on one confined instance (tiny guest, 256 MiB): pause/resume through
     * the card (HTTP -> card -> Unix socket -> hypervisor) next to the same PATCH /vm sent straight
     * to the hypervisor's socket (the card's overhead), snapshot of a running instance
     * (pause + PUT /snapshot/create + resume), and restore (new confined JVM + PUT /snapshot/load)
     * next to a cold launch of the same instance.
     */
    static void lifecycle(Path state) throws Exception {
        int cycles = Integer.parseInt(System.getenv().getOrDefault("CYCLES", "100"));
        int snaps = Integer.parseInt(System.getenv().getOrDefault("SNAPSHOTS", "3"));
        HttpResponse<String> h = call("POST", "/v1/instances", "{\"name\":\"lc\",\"kernel\":\"tiny.bzImage\",\"memoryMib\":256}");
        if (h.statusCode() != 201) throw new AssertionError(h.body());
        String id = JSON.readTree(h.body()).get("id").asText();
        long[] pause = new long[cycles];
        long[] resume = new long[cycles];
        for (int i = 0; i < cycles; i++) {
            long t = System.nanoTime();
            h = call("POST", "/v1/instances/lc/pause", null);
            pause[i] = System.nanoTime() - t;
            if (h.statusCode() != 200) throw new AssertionError(h.body());
            t = System.nanoTime();
            h = call("POST", "/v1/instances/lc/resume", null);
            resume[i] = System.nanoTime() - t;
            if (h.statusCode() != 200) throw new AssertionError(h.body());
        }
        System.out.println("pause  POST /v1/instances/lc/pause  (card):   " + pct(pause));
        System.out.println("resume POST /v1/instances/lc/resume (card):   " + pct(resume));
        io.qingtian.card.instance.HypervisorApi hv = new io.qingtian.card.instance.HypervisorApi(
                state.resolve("instances").resolve(id).resolve("api/firecracker.sock"));
        long[] dp = new long[cycles];
        long[] dr = new long[cycles];
        java.time.Duration to = java.time.Duration.ofSeconds(30);
        for (int i = 0; i < cycles; i++) {
            long t = System.nanoTime();
            hv.patch("/vm", java.util.Map.of("state", "Paused"), to);
            dp[i] = System.nanoTime() - t;
            t = System.nanoTime();
            hv.patch("/vm", java.util.Map.of("state", "Resumed"), to);
            dr[i] = System.nanoTime() - t;
        }
        System.out.println("peer: PATCH /vm Paused  straight to the hypervisor socket: " + pct(dp));
        System.out.println("peer: PATCH /vm Resumed straight to the hypervisor socket: " + pct(dr));
        long[] sn = new long[snaps];
        for (int i = 0; i < snaps; i++) {
            long t = System.nanoTime();
            h = call("POST", "/v1/instances/lc/snapshot", "{\"name\":\"s" + i + "\"}");
            sn[i] = System.nanoTime() - t;
            if (h.statusCode() != 201) throw new AssertionError(h.body());
            com.fasterxml.jackson.databind.JsonNode n = JSON.readTree(h.body());
            System.out.printf("snapshot s%d of the running instance: %.1f ms through the API (card-measured pause+create+resume %.1f ms); "
                    + "state %d B, memory file %d MiB (sparse: %d KiB on disk)%n", i, sn[i] / 1e6, n.get("millis").asDouble(),
                    n.get("stateBytes").asLong(), n.get("memoryFileBytes").asLong() >> 20, diskKib(state, n));
        }
        System.out.println("snapshot POST (256 MiB guest): " + pct(sn));
        long[] rs = new long[snaps];
        long[] cold = new long[snaps];
        for (int i = 0; i < snaps; i++) {
            call("POST", "/v1/instances/lc/stop", null);
            long t = System.nanoTime();
            h = call("POST", "/v1/instances/lc/restore", "{\"snapshot\":\"s" + i + "\"}");
            rs[i] = System.nanoTime() - t;
            if (h.statusCode() != 200) throw new AssertionError(h.body());
            call("POST", "/v1/instances/lc/stop", null);
            t = System.nanoTime();
            h = call("POST", "/v1/instances/lc/start", null);
            cold[i] = System.nanoTime() - t;
            if (h.statusCode() != 200) throw new AssertionError(h.body());
        }
        System.out.println("restore POST -> RUNNING (new confined JVM + snapshot/load): " + pct(rs));
        System.out.println("peer: start POST -> RUNNING (new confined JVM + cold boot setup): " + pct(cold));
        call("DELETE", "/v1/instances/lc", null);
    }

    /** du -k of the snapshot's memory file (st_blocks; Java's file attributes do not expose it). */
    static long diskKib(Path state, com.fasterxml.jackson.databind.JsonNode snap) throws Exception {
        try (var s = Files.walk(state.resolve("snapshots"))) {
            Path mem = s.filter(p -> p.endsWith(snap.get("name").asText() + "/memory")).findFirst().orElseThrow();
            Process p = new ProcessBuilder("du", "-k", mem.toString()).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            return Long.parseLong(out.split("\\s+")[0]);
        }
    }

    /** The e2e TinyKernel: prints "@!" on COM1, then cli; hlt. */
    static byte[] tinyKernel() {
        byte[] code = {0x66, (byte) 0xBA, (byte) 0xF8, 0x03, (byte) 0xB0, 0x40, (byte) 0xEE, (byte) 0xB0, 0x21,
                (byte) 0xEE, (byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFC};
        int offset = 5 * 512;
        ByteBuffer b = ByteBuffer.allocate(offset + 0x200 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) 4).putShort(0x1fe, (short) 0xaa55).put(0x200, (byte) 0xeb).put(0x201, (byte) 0x6a);
        b.putInt(0x202, 0x53726448).putShort(0x206, (short) 0x020f).put(0x211, (byte) 1);
        b.putInt(0x22c, 0x7fff_ffff).putInt(0x230, 0x20_0000).put(0x234, (byte) 1).putShort(0x236, (short) 3);
        b.putInt(0x238, 2047).putLong(0x258, 0x100_0000L).putInt(0x260, 0x10000);
        b.put(offset + 0x200, code);
        return b.array();
    }
}
