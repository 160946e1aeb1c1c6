package io.qingtian.e2e.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.card.instance.HypervisorApi;
import io.qingtian.e2e.Await;
import io.qingtian.e2e.control.ApiCard.R;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card drives its hypervisors over their Firecracker-compatible API sockets: launch,
 * pause/resume, snapshot/restore through the control API over real HTTP, with the ticker guest
 * ({@link TinyKernel#TICKER}) as the witness of guest progress.
 */
class LifecycleApiTest {
    static final ObjectMapper JSON = ApiCard.JSON;
    static final Pattern TICK = Pattern.compile("<([a-z])>");
    @TempDir
    static Path tmp;
    static Path state;
    static ApiCard api;
    static String tokenA;
    static String tokenB;
    static String tenantA;

    static R call(String token, String method, String path, String body) throws Exception {
        return api.call(token, method, path, body);
    }

    @BeforeAll
    static void startCard() throws Exception {
        api = ApiCard.start(tmp, 644_000, null, images -> {
            Files.write(images.resolve("ticker.bzImage"), TinyKernel.bzImage(TinyKernel.TICKER));
            Files.write(images.resolve("tiny.bzImage"), TinyKernel.bzImage());
            Files.write(images.resolve("garbage.bzImage"), "this is not a kernel".repeat(100).getBytes());
        });
        state = api.state;
        tokenA = api.tenant("alice");
        tokenB = api.tenant("bob");
        tenantA = call(tokenA, "GET", "/v1/whoami", null).body().get("tenant").asText();
    }

    @AfterAll
    static void stopCard() {
        if (api != null) {
            api.close();
        }
    }

    /** The guest's ticks in the console log, without the hypervisor's own "qt: ..." lines. */
    static List<Character> ticks(ApiCard card, String token, String instance) throws Exception {
        String console = card.call(token, "GET", "/v1/instances/" + instance + "/console", null).text();
        Matcher m = TICK.matcher(console.replaceAll("qt: [^\n]*\n", ""));
        List<Character> out = new ArrayList<>();
        while (m.find()) {
            out.add(m.group(1).charAt(0));
        }
        return out;
    }

    static List<Character> ticks(String instance) throws Exception {
        return ticks(api, tokenA, instance);
    }

    static List<Character> awaitTicks(ApiCard card, String token, String instance, Predicate<List<Character>> done)
            throws Exception {
        try {
            return Await.until("guest ticks of " + instance, () -> ticks(card, token, instance), done);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; console:\n"
                    + card.call(token, "GET", "/v1/instances/" + instance + "/console", null).text(), e);
        }
    }

    static List<Character> awaitTicks(String instance, Predicate<List<Character>> done) throws Exception {
        return awaitTicks(api, tokenA, instance, done);
    }

    /**
     * The ticks once the console has caught up: the card reads the hypervisor's output through
     * a pipe, so ticks the guest printed before a pause can still arrive after it. Returns the
     * count once it has not changed for {@code quietMillis} (a guest that still runs prints
     * ~20 ticks a second and never gets there).
     */
    static int settledTicks(String instance, long quietMillis) throws Exception {
        int[] last = {-1};
        long[] since = {0};
        Await.until("the console of " + instance + " to settle", () -> {
            int n = ticks(instance).size();
            if (n != last[0]) {
                last[0] = n;
                since[0] = System.nanoTime();
            }
            return System.nanoTime() - since[0];
        }, quiet -> quiet >= quietMillis * 1_000_000L);
        return last[0];
    }

    static JsonNode awaitState(String instance, String want) throws Exception {
        return api.awaitState(tokenA, instance, want);
    }

    /** Each tick is the letter after the previous one: the guest went on where it was, across restores. */
    static void assertConsecutive(List<Character> ticks, int beforeRestore) {
        for (int k = 1; k < ticks.size(); k++) {
            char want = ticks.get(k - 1) == 'z' ? 'a' : (char) (ticks.get(k - 1) + 1);
            assertThat(ticks.get(k)).as("tick " + k + " of " + ticks + " (" + beforeRestore + " before the restore)")
                    .isEqualTo(want);
        }
    }

    static long counterIn(Path memoryFile) throws Exception {
        try (FileChannel ch = FileChannel.open(memoryFile)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, TinyKernel.COUNTER_GPA);
            return Integer.toUnsignedLong(b.flip().getInt());
        }
    }

    @Test
    @Tag("kvm")
    void pauseStopsTheGuestResumeContinuesAndARestoreContinuesFromTheSnapshot() throws Exception {
        R c = call(tokenA, "POST", "/v1/instances", "{\"name\":\"tick\",\"kernel\":\"ticker.bzImage\",\"memoryMib\":64}");
        assertThat(c.status()).as(c.text()).isEqualTo(201);
        assertThat(c.body().get("state").asText()).isEqualTo("RUNNING");
        String id = c.body().get("id").asText();
        int uid = c.body().get("uid").asInt();

        // configured over its API socket, in a directory only the instance's uid (and the card) can reach
        Path apiDir = state.resolve("instances").resolve(id).resolve("api");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(apiDir))).isEqualTo("rwx------");
        assertThat(Files.getAttribute(apiDir, "unix:uid")).isEqualTo(uid);
        HypervisorApi hv = new HypervisorApi(apiDir.resolve("firecracker.sock"));
        JsonNode info = hv.get("/", Duration.ofSeconds(10)).body();
        assertThat(info.get("id").asText()).isEqualTo(id);
        assertThat(info.get("state").asText()).isEqualTo("Running");
        awaitTicks("tick", t -> t.size() >= 3);

        // pause: no progress while paused; a second pause is a 409 that changes nothing
        R p = call(tokenA, "POST", "/v1/instances/tick/pause", null);
        assertThat(p.status()).as(p.text()).isEqualTo(200);
        assertThat(p.body().get("state").asText()).isEqualTo("PAUSED");
        assertThat(hv.get("/", Duration.ofSeconds(10)).body().get("state").asText()).isEqualTo("Paused");
        int paused = settledTicks("tick", 500);
        Thread.sleep(800); // a window to watch for progress that must not come
        assertThat(ticks("tick")).hasSize(paused);
        R again = call(tokenA, "POST", "/v1/instances/tick/pause", null);
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.body().get("error").asText()).isEqualTo("cannot pause instance tick: it is PAUSED");
        assertThat(call(tokenA, "GET", "/v1/instances/tick", null).body().get("state").asText()).isEqualTo("PAUSED");

        // resume: progress again
        R res = call(tokenA, "POST", "/v1/instances/tick/resume", null);
        assertThat(res.status()).as(res.text()).isEqualTo(200);
        assertThat(res.body().get("state").asText()).isEqualTo("RUNNING");
        awaitTicks("tick", t -> t.size() >= paused + 3);
        assertThat(call(tokenA, "POST", "/v1/instances/tick/resume", null).status()).isEqualTo(409);

        // snapshot while paused: stays paused; the card keeps the files, read-only, in its state dir per tenant
        assertThat(call(tokenA, "POST", "/v1/instances/tick/pause", null).status()).isEqualTo(200);
        R s1 = call(tokenA, "POST", "/v1/instances/tick/snapshot", "{\"name\":\"s1\"}");
        assertThat(s1.status()).as(s1.text()).isEqualTo(201);
        assertThat(s1.body().get("memoryFileBytes").asLong()).isEqualTo(64L << 20);
        assertThat(s1.body().get("stateBytes").asLong()).isPositive();
        assertThat(call(tokenA, "GET", "/v1/instances/tick", null).body().get("state").asText()).isEqualTo("PAUSED");
        Path snaps = state.resolve("snapshots").resolve(tenantA).resolve("tick");
        Path mem1 = snaps.resolve("s1/memory");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(snaps))).isEqualTo("rwx------");
        assertThat(Files.getAttribute(snaps, "unix:uid")).isEqualTo(0);
        assertThat(Files.getAttribute(mem1, "unix:uid")).isEqualTo(0);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(mem1))).isEqualTo("r--r--r--");
        long counter1 = counterIn(mem1);
        assertThat(counter1).as("the guest's counter in the snapshot's memory").isPositive();
        assertThat(call(tokenA, "POST", "/v1/instances/tick/snapshot", "{\"name\":\"s1\"}").status()).isEqualTo(409);
        R busy = call(tokenA, "POST", "/v1/instances/tick/restore", "{\"snapshot\":\"s1\"}");
        assertThat(busy.status()).isEqualTo(409);
        assertThat(busy.body().get("error").asText()).contains("stop it first");
        long oldPid = call(tokenA, "GET", "/v1/instances/tick", null).body().get("pid").asLong();

        // stop (never resumed after the snapshot), then restore into a new process: the ticks continue
        List<Character> before = ticks("tick");
        assertThat(call(tokenA, "POST", "/v1/instances/tick/stop", null).body().get("state").asText()).isEqualTo("STOPPED");
        R r = call(tokenA, "POST", "/v1/instances/tick/restore", "{\"snapshot\":\"s1\"}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.body().get("state").asText()).isEqualTo("RUNNING");
        assertThat(r.body().get("restoredFrom").asText()).isEqualTo("s1");
        long pid = r.body().get("pid").asLong();
        assertThat(pid).isNotEqualTo(oldPid);
        assertThat(Files.readString(Path.of("/proc/" + pid + "/status"))).containsPattern("Seccomp:\\s+2");
        List<Character> after = awaitTicks("tick", t -> t.size() >= before.size() + 3);
        String console = call(tokenA, "GET", "/v1/instances/tick/console", null).text();
        assertThat(console.split("OK\n", -1)).as("one cold boot only").hasSize(2);
        assertConsecutive(after, before.size());

        // a snapshot of the running, restored guest: its counter went on from s1's
        R s2 = call(tokenA, "POST", "/v1/instances/tick/snapshot", "{\"name\":\"s2\"}");
        assertThat(s2.status()).as(s2.text()).isEqualTo(201);
        assertThat(call(tokenA, "GET", "/v1/instances/tick", null).body().get("state").asText()).isEqualTo("RUNNING");
        assertThat(counterIn(snaps.resolve("s2/memory"))).isGreaterThan(counter1);
        JsonNode list = call(tokenA, "GET", "/v1/instances/tick/snapshots", null).body();
        assertThat(list).extracting(n -> n.get("name").asText()).containsExactly("s1", "s2");
        assertThat(call(tokenB, "GET", "/v1/instances/tick/snapshots", null).status()).isEqualTo(404);
        for (int k = 3; k <= 16; k++) { // up to the limit per instance
            assertThat(call(tokenA, "POST", "/v1/instances/tick/snapshot", "{\"name\":\"s" + k + "\"}").status()).isEqualTo(201);
        }
        R full = call(tokenA, "POST", "/v1/instances/tick/snapshot", "{\"name\":\"s17\"}");
        assertThat(full.status()).isEqualTo(409);
        assertThat(full.body().get("error").asText()).isEqualTo("instance tick has 16 snapshots, the most it may keep: delete one first");
        assertThat(call(tokenA, "GET", "/v1/instances/tick", null).body().get("state").asText()).isEqualTo("RUNNING");

        // killing the restored hypervisor is detected, its cgroup and API socket are gone
        List<String> cgroups = JSON.convertValue(call(tokenA, "GET", "/v1/instances/tick", null).body().get("cgroups"),
                new com.fasterxml.jackson.core.type.TypeReference<>() {});
        assertThat(cgroups).isNotEmpty();
        new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
        JsonNode dead = awaitState("tick", "EXITED");
        assertThat(dead.get("lastExit").get("signal").asInt()).isEqualTo(9);
        assertThat(cgroups).allSatisfy(d -> assertThat(Path.of(d)).doesNotExist());
        assertThat(apiDir.resolve("firecracker.sock")).doesNotExist();
        assertThat(call(tokenA, "POST", "/v1/instances/tick/pause", null).status()).isEqualTo(409);

        assertThat(call(tokenA, "DELETE", "/v1/instances/tick/snapshots/s2", null).status()).isEqualTo(200);
        R gone = call(tokenA, "POST", "/v1/instances/tick/restore", "{\"snapshot\":\"s2\"}");
        assertThat(gone.status()).isEqualTo(404);
        assertThat(gone.body().get("error").asText()).isEqualTo("snapshot s2 not found");
        assertThat(call(tokenA, "DELETE", "/v1/instances/tick", null).status()).isEqualTo(200);
        assertThat(snaps).doesNotExist();

        // the audit log has who did what, refusals with their reason
        List<JsonNode> audit = new ArrayList<>();
        for (String l : Files.readAllLines(state.resolve("control/audit.log"))) {
            audit.add(JSON.readTree(l));
        }
        assertThat(audit).anySatisfy(n -> {
            assertThat(n.get("path").asText()).isEqualTo("/v1/instances/tick/snapshot");
            assertThat(n.get("status").asInt()).isEqualTo(201);
            assertThat(n.get("tenant").asText()).isEqualTo(tenantA);
        });
        assertThat(audit).anySatisfy(n -> {
            assertThat(n.get("path").asText()).isEqualTo("/v1/instances/tick/restore");
            assertThat(n.get("status").asInt()).isEqualTo(200);
        });
        assertThat(audit).anySatisfy(n -> {
            assertThat(n.get("path").asText()).isEqualTo("/v1/instances/tick/pause");
            assertThat(n.get("status").asInt()).isEqualTo(409);
            assertThat(n.get("outcome").asText()).isEqualTo("cannot pause instance tick: it is PAUSED");
        });
    }

    @Test
    @Tag("kvm")
    void volumesAndNicsAreVhostUserDevicesConfiguredOverTheSocket() throws Exception {
        assertThat(call(tokenA, "POST", "/v1/volumes", "{\"name\":\"d1\",\"size\":\"8M\"}").status()).isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/vpcs", "{\"name\":\"net\",\"cidr\":\"10.1.0.0/16\"}").status()).isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/subnets", "{\"name\":\"s1\",\"vpc\":\"net\",\"cidr\":\"10.1.1.0/24\"}").status())
                .isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/nics", "{\"name\":\"n1\",\"subnet\":\"s1\"}").status()).isEqualTo(201);
        // InstanceStart connects to every vhost-user back-end: RUNNING means PUT /drives and /network-interfaces named live sockets
        R c = call(tokenA, "POST", "/v1/instances",
                "{\"name\":\"dev\",\"kernel\":\"tiny.bzImage\",\"memoryMib\":64,\"volumes\":[\"d1\"],\"nics\":[\"n1\"]}");
        assertThat(c.status()).as(c.text()).isEqualTo(201);
        assertThat(c.body().get("state").asText()).isEqualTo("RUNNING");
        assertThat(call(tokenA, "GET", "/v1/volumes/d1", null).body().get("attached").asBoolean()).isTrue();
        // a VM with vhost-user devices snapshots (their ring positions are saved) and keeps running
        R s = call(tokenA, "POST", "/v1/instances/dev/snapshot", "{\"name\":\"s1\"}");
        assertThat(s.status()).as(s.text()).isEqualTo(201);
        assertThat(call(tokenA, "GET", "/v1/instances/dev", null).body().get("state").asText()).isEqualTo("RUNNING");
        HypervisorApi hv = new HypervisorApi(state.resolve("instances").resolve(c.body().get("id").asText())
                .resolve("api/firecracker.sock"));
        assertThat(hv.get("/", Duration.ofSeconds(10)).body().get("state").asText()).isEqualTo("Running");
        assertThat(call(tokenA, "GET", "/v1/instances/dev/snapshots", null).body())
                .extracting(n -> n.get("name").asText()).containsExactly("s1");
        // restored into a new process, it connects to the same card back-ends again
        long oldPid = call(tokenA, "GET", "/v1/instances/dev", null).body().get("pid").asLong();
        assertThat(call(tokenA, "POST", "/v1/instances/dev/stop", null).body().get("state").asText()).isEqualTo("STOPPED");
        R r = call(tokenA, "POST", "/v1/instances/dev/restore", "{\"snapshot\":\"s1\"}");
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.body().get("state").asText()).isEqualTo("RUNNING");
        assertThat(r.body().get("pid").asLong()).isNotEqualTo(oldPid);
        assertThat(call(tokenA, "GET", "/v1/volumes/d1", null).body().get("attached").asBoolean()).isTrue();
        assertThat(call(tokenA, "DELETE", "/v1/instances/dev", null).status()).isEqualTo(200);
    }

    @Test
    @Tag("kvm")
    void aSnapshotOutlivesTheCardAndRestoresUnderANewCard(@TempDir Path own) throws Exception {
        ApiCard.Images ticker = images -> Files.write(images.resolve("ticker.bzImage"), TinyKernel.bzImage(TinyKernel.TICKER));
        String token;
        // confined hypervisors run as other uids: the path to each card's state must be traversable
        Files.setPosixFilePermissions(own, PosixFilePermissions.fromString("rwx--x--x"));
        Path firstRoot = Files.createDirectories(own.resolve("first"));
        Path oldVolumeSocket;
        Path oldNicSocket;
        try (ApiCard first = ApiCard.start(firstRoot, 645_000, null, ticker)) {
            token = first.tenant("carol");
            // a volume and a NIC: vhost-user back-ends whose sockets the snapshot names
            assertThat(first.call(token, "POST", "/v1/volumes", "{\"name\":\"d1\",\"size\":\"8M\"}").status()).isEqualTo(201);
            assertThat(first.call(token, "POST", "/v1/vpcs", "{\"name\":\"net\",\"cidr\":\"10.1.0.0/16\"}").status())
                    .isEqualTo(201);
            assertThat(first.call(token, "POST", "/v1/subnets", "{\"name\":\"s1\",\"vpc\":\"net\",\"cidr\":\"10.1.1.0/24\"}")
                    .status()).isEqualTo(201);
            assertThat(first.call(token, "POST", "/v1/nics", "{\"name\":\"n1\",\"subnet\":\"s1\"}").status()).isEqualTo(201);
            R c = first.call(token, "POST", "/v1/instances", "{\"name\":\"t\",\"kernel\":\"ticker.bzImage\",\"memoryMib\":64,"
                    + "\"volumes\":[\"d1\"],\"nics\":[\"n1\"]}");
            assertThat(c.status()).as(c.text()).isEqualTo(201);
            Path instanceDir = first.state.resolve("instances").resolve(c.body().get("id").asText());
            String tenant = c.body().get("tenant").asText();
            oldVolumeSocket = instanceDir.resolve("vol-" + tenant + ".d1.sock");
            oldNicSocket = instanceDir.resolve("nic-" + tenant + ".n1.sock");
            assertThat(oldVolumeSocket).as("the volume's socket of the first launch").exists();
            assertThat(oldNicSocket).as("the NIC's socket of the first launch").exists();
            assertThat(nicAttached(first, token, "n1")).as("the hypervisor is connected to the NIC").isTrue();
            awaitTicks(first, token, "t", t -> t.size() >= 2);
            // paused, so that the console ends where the snapshot is (a running one would tick on after it)
            assertThat(first.call(token, "POST", "/v1/instances/t/pause", null).status()).isEqualTo(200);
            assertThat(first.call(token, "POST", "/v1/instances/t/snapshot", "{\"name\":\"keep\"}").status()).isEqualTo(201);
        } // the card stops every hypervisor as it goes
        // The new card runs on the same state, moved: the back-ends' sockets have new paths,
        // unlike the ones the snapshot names. The card passes its sockets as the load's
        // drive_overrides and network_overrides, or the hypervisor would refuse the restore.
        Path secondRoot = Files.createDirectories(own.resolve("second"));
        Files.move(firstRoot.resolve("state"), secondRoot.resolve("state"));
        try (ApiCard second = ApiCard.start(secondRoot, 645_000, null, ticker)) {
            assertThat(second.call(token, "GET", "/v1/instances/t", null).body().get("state").asText()).isEqualTo("STOPPED");
            assertThat(second.call(token, "GET", "/v1/instances/t/snapshots", null).body()).extracting(n -> n.get("name").asText())
                    .containsExactly("keep");
            assertThat(nicAttached(second, token, "n1")).as("no VM on the NIC yet").isFalse();
            int before = ticks(second, token, "t").size();
            ApiCard.R r = second.call(token, "POST", "/v1/instances/t/restore", "{\"snapshot\":\"keep\"}");
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            assertThat(r.body().get("restoredFrom").asText()).isEqualTo("keep");
            Path instanceDir = second.state.resolve("instances").resolve(r.body().get("id").asText());
            Path newVolumeSocket = instanceDir.resolve(oldVolumeSocket.getFileName());
            Path newNicSocket = instanceDir.resolve(oldNicSocket.getFileName());
            assertThat(newVolumeSocket).exists();
            assertThat(newNicSocket).as("the network service serves the NIC under the moved state directory").exists();
            assertThat(oldVolumeSocket).as("the path the snapshot names is gone").doesNotExist();
            assertThat(oldNicSocket).as("the NIC's old path is not used").doesNotExist();
            assertThat(second.call(token, "GET", "/v1/volumes/d1", null).body().get("attached").asBoolean()).isTrue();
            // the restored hypervisor connected to the NIC's new socket (network_overrides)
            long deadline = System.nanoTime() + 60_000_000_000L; // ends when the condition holds
            while (!nicAttached(second, token, "n1") && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(nicAttached(second, token, "n1")).as("the restored VM is connected to the NIC").isTrue();
            List<Character> after = awaitTicks(second, token, "t", t -> t.size() >= before + 3);
            assertThat(second.call(token, "GET", "/v1/instances/t/console", null).text().split("OK\n", -1))
                    .as("one cold boot only").hasSize(2);
            assertConsecutive(after, before);
        }
    }

    /** Whether a VM is connected to the NIC's vhost-user export ({@code attached} in {@code GET /v1/nics}). */
    private static boolean nicAttached(ApiCard card, String token, String nic) throws Exception {
        for (JsonNode n : card.call(token, "GET", "/v1/nics", null).body()) {
            if (n.get("name").asText().equals(nic)) {
                return n.get("attached").asBoolean();
            }
        }
        throw new AssertionError("no NIC " + nic);
    }

    @Test
    void aSetupTheHypervisorRefusesSurfacesWithItsMessage() throws Exception {
        R c = call(tokenA, "POST", "/v1/instances", "{\"name\":\"junk\",\"kernel\":\"garbage.bzImage\",\"memoryMib\":64}");
        assertThat(c.status()).as(c.text()).isEqualTo(400);
        assertThat(c.body().get("error").asText()).startsWith("starting instance junk: PUT /");
        assertThat(call(tokenA, "GET", "/v1/instances/junk", null).status()).as("a refused launch defines nothing")
                .isEqualTo(404);

        R d = call(tokenA, "POST", "/v1/instances",
                "{\"name\":\"junk2\",\"kernel\":\"garbage.bzImage\",\"memoryMib\":64,\"start\":false}");
        assertThat(d.status()).as(d.text()).isEqualTo(201);
        R s = call(tokenA, "POST", "/v1/instances/junk2/start", null);
        assertThat(s.status()).as(s.text()).isEqualTo(400);
        JsonNode v = awaitState("junk2", "EXITED");
        assertThat(v.get("lastExit").get("code").asInt()).isEqualTo(2);
        assertThat(v.get("lastExit").get("meaning").asText()).contains("refused its configuration");
        assertThat(v.get("lastExit").get("detail").asText()).startsWith("PUT /").contains("400");
        assertThat(s.body().get("error").asText()).contains(v.get("lastExit").get("detail").asText());
        assertThat(call(tokenA, "DELETE", "/v1/instances/junk2", null).status()).isEqualTo(200);
    }
}
