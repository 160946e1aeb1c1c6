package io.qingtian.e2e.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.e2e.Await;
import io.qingtian.e2e.control.ApiCard.R;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The card's HTTP control API against a real card on a temp state dir, over real HTTP. */
class ControlApiTest {
    static final ObjectMapper JSON = ApiCard.JSON;
    @TempDir
    static Path tmp;
    static ApiCard api;
    static String admin;
    static String tokenA;
    static String tokenB;

    static R call(String token, String method, String path, String body) throws Exception {
        return api.call(token, method, path, body);
    }

    @BeforeAll
    static void startCard() throws Exception {
        api = ApiCard.start(tmp, 640_000, null, images -> Files.write(images.resolve("tiny.bzImage"), TinyKernel.bzImage()));
        admin = api.admin;
        tokenA = api.tenant("alice");
        tokenB = api.tenant("bob");
        assertThat(call(tokenA, "POST", "/v1/volumes", "{\"name\":\"v1\",\"size\":\"8M\"}").status()).isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/vpcs", "{\"name\":\"net\",\"cidr\":\"10.0.0.0/16\"}").status()).isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/subnets", "{\"name\":\"s1\",\"vpc\":\"net\",\"cidr\":\"10.0.1.0/24\"}").status())
                .isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/security-groups", "{\"name\":\"web\"}").status()).isEqualTo(201);
        assertThat(call(tokenA, "POST", "/v1/nics", "{\"name\":\"n1\",\"subnet\":\"s1\",\"securityGroups\":[\"web\"]}")
                .status()).isEqualTo(201);
        R i = call(tokenA, "POST", "/v1/instances",
                "{\"name\":\"idle\",\"kernel\":\"tiny.bzImage\",\"memoryMib\":64,\"start\":false}");
        assertThat(i.status()).as(i.text()).isEqualTo(201);
    }

    @AfterAll
    static void stopCard() {
        if (api != null) {
            api.close();
        }
    }

    /** Endpoints naming one of tenant A's resources: B must get 404 (not 403), exactly as for a missing name. */
    static final List<String[]> NAMED = List.of(
            new String[] {"GET", "/v1/volumes/v1", null},
            new String[] {"DELETE", "/v1/volumes/v1", null},
            new String[] {"GET", "/v1/instances/idle", null},
            new String[] {"DELETE", "/v1/instances/idle", null},
            new String[] {"POST", "/v1/instances/idle/start", null},
            new String[] {"POST", "/v1/instances/idle/stop", null},
            new String[] {"POST", "/v1/instances/idle/reboot", null},
            new String[] {"GET", "/v1/instances/idle/console", null},
            new String[] {"POST", "/v1/instances/idle/pause", null},
            new String[] {"POST", "/v1/instances/idle/resume", null},
            new String[] {"POST", "/v1/instances/idle/snapshot", "{\"name\":\"s1\"}"},
            new String[] {"GET", "/v1/instances/idle/snapshots", null},
            new String[] {"DELETE", "/v1/instances/idle/snapshots/s1", null},
            new String[] {"POST", "/v1/instances/idle/restore", "{\"snapshot\":\"s1\"}"},
            new String[] {"POST", "/v1/instances/idle/attestation", "{\"nonce\":\"00ff\"}"},
            new String[] {"POST", "/v1/security-groups/web/rules", "{\"proto\":\"tcp\",\"ports\":\"80\",\"from\":\"0.0.0.0/0\"}"},
            new String[] {"POST", "/v1/instances", "{\"name\":\"x\",\"kernel\":\"tiny.bzImage\",\"volumes\":[\"v1\"],\"start\":false}"},
            new String[] {"POST", "/v1/subnets", "{\"name\":\"s9\",\"vpc\":\"net\",\"cidr\":\"10.0.9.0/24\"}"},
            new String[] {"POST", "/v1/nics", "{\"name\":\"n9\",\"subnet\":\"s1\"}"});

    static final List<String[]> LISTS = List.of(
            new String[] {"GET", "/v1/volumes"}, new String[] {"GET", "/v1/instances"}, new String[] {"GET", "/v1/vpcs"},
            new String[] {"GET", "/v1/subnets"}, new String[] {"GET", "/v1/security-groups"},
            new String[] {"GET", "/v1/nics"}, new String[] {"GET", "/v1/tokens"});

    @Test
    void authorizationMatrix() throws Exception {
        List<String[]> all = new java.util.ArrayList<>(NAMED);
        LISTS.forEach(l -> all.add(new String[] {l[0], l[1], null}));
        all.add(new String[] {"GET", "/v1/tenants", null});
        all.add(new String[] {"POST", "/v1/tenants", "{\"name\":\"eve\"}"});
        for (String[] e : all) {
            assertThat(call(null, e[0], e[1], e[2]).status()).as("no token: " + e[0] + " " + e[1]).isEqualTo(401);
            assertThat(call("qt_0000_bad", e[0], e[1], e[2]).status()).as("bad token: " + e[1]).isEqualTo(401);
            assertThat(call(tokenA + "x", e[0], e[1], e[2]).status()).as("tampered token: " + e[1]).isEqualTo(401);
        }
        for (String[] e : NAMED) {
            R r = call(tokenB, e[0], e[1], e[2]);
            assertThat(r.status()).as("other tenant: " + e[0] + " " + e[1] + " " + r.text()).isEqualTo(404);
        }
        for (String[] l : LISTS) {
            R b = call(tokenB, l[0], l[1], null);
            assertThat(b.status()).isEqualTo(200);
            if (!l[1].equals("/v1/tokens")) {
                assertThat(b.body().size()).as("other tenant sees nothing in " + l[1]).isZero();
                R a = call(tokenA, l[0], l[1], null);
                assertThat(a.body().size()).as("own tenant sees its resources in " + l[1]).isPositive();
            }
        }
        // tokens: another tenant cannot revoke (or learn about) A's token
        String idA = call(tokenA, "GET", "/v1/whoami", null).body().get("token").asText();
        assertThat(call(tokenB, "DELETE", "/v1/tokens/" + idA, null).status()).isEqualTo(404);
        assertThat(call(tokenA, "GET", "/v1/whoami", null).status()).isEqualTo(200);
        assertThat(call(tokenB, "GET", "/v1/tokens", null).body().toString()).doesNotContain(idA);
        // the tenant-only and admin-only halves
        assertThat(call(tokenA, "GET", "/v1/tenants", null).status()).isEqualTo(403);
        String tenantA = call(tokenA, "GET", "/v1/whoami", null).body().get("tenant").asText();
        assertThat(call(tokenB, "POST", "/v1/tenants/" + tenantA + "/tokens", null).status()).isEqualTo(403);
        assertThat(call(admin, "GET", "/v1/volumes", null).status()).isEqualTo(403);
        // own tenant, read-only named endpoints
        assertThat(call(tokenA, "GET", "/v1/volumes/v1", null).status()).isEqualTo(200);
        assertThat(call(tokenA, "GET", "/v1/instances/idle", null).body().get("state").asText()).isEqualTo("STOPPED");
        // the same names in tenant B's namespace are independent
        assertThat(call(tokenB, "POST", "/v1/volumes", "{\"name\":\"v1\",\"size\":\"1M\"}").status()).isEqualTo(201);
        assertThat(call(tokenA, "GET", "/v1/volumes/v1", null).body().get("sizeBytes").asLong()).isEqualTo(8 << 20);
    }

    @Test
    void clientMistakesAre400WithAClearMessage() throws Exception {
        Map<String, String> cases = Map.of(
                "{\"name\":\"v2\",\"size\":\"8M\",\"colour\":\"red\"}", "unknown field 'colour'",
                "{\"name\":\"v2\",\"size\":8}", "wrong type",
                "{\"name\":\"v2\",\"size\":\"8M\"", "malformed JSON",
                "{\"name\":\"v2\",\"size\":\"1K\"}", "size must be between",
                "{\"name\":\"../etc\",\"size\":\"8M\"}", "name must match",
                "[]", "wrong type",
                "{\"name\":\"v2\"}", "size is required");
        for (var c : cases.entrySet()) {
            R r = call(tokenA, "POST", "/v1/volumes", c.getKey());
            assertThat(r.status()).as(c.getKey() + " -> " + r.text()).isEqualTo(400);
            assertThat(r.body().get("error").asText()).as(c.getKey()).contains(c.getValue());
        }
        R cpus = call(tokenA, "POST", "/v1/instances", "{\"name\":\"big\",\"kernel\":\"tiny.bzImage\",\"cpus\":1000}");
        assertThat(cpus.status()).isEqualTo(400);
        assertThat(cpus.body().get("error").asText()).contains("cpus must be between 1 and 32");
        R host = call(tokenA, "POST", "/v1/instances", "{\"name\":\"h\",\"kernel\":\"/etc/passwd\"}");
        assertThat(host.status()).isEqualTo(400);
        assertThat(host.body().get("error").asText()).contains("image directory");
        R sb = call(tokenA, "POST", "/v1/instances", "{\"name\":\"sb\",\"manifest\":\"tiny.bzImage\"}");
        assertThat(sb.status()).isEqualTo(400);
        assertThat(sb.body().get("error").asText()).contains("tiny.bzImage").contains("--trust");
        assertThat(call(tokenA, "GET", "/v1/instances/sb", null).status()).isEqualTo(404);
        assertThat(call(tokenA, "GET", "/v1/nope", null).status()).isEqualTo(404);
    }

    @Test
    void lifecycleRequestsInTheWrongStateAre409AndChangeNothing() throws Exception {
        Map<String, String> cases = Map.of(
                "pause", "cannot pause instance idle: it is STOPPED",
                "resume", "cannot resume instance idle: it is STOPPED (only a PAUSED instance can be resumed)",
                "snapshot", "cannot snapshot instance idle: it is STOPPED (snapshots are taken of a RUNNING or PAUSED instance)");
        for (var c : cases.entrySet()) {
            R r = call(tokenA, "POST", "/v1/instances/idle/" + c.getKey(), c.getKey().equals("snapshot") ? "{\"name\":\"s1\"}" : null);
            assertThat(r.status()).as(c.getKey() + " " + r.text()).isEqualTo(409);
            assertThat(r.body().get("error").asText()).isEqualTo(c.getValue());
            JsonNode v = call(tokenA, "GET", "/v1/instances/idle", null).body();
            assertThat(v.get("state").asText()).isEqualTo("STOPPED");
            assertThat(v.get("pid").isNull()).isTrue();
        }
        assertThat(call(tokenA, "GET", "/v1/instances/idle/snapshots", null).body()).isEmpty();
        R missing = call(tokenA, "POST", "/v1/instances/idle/restore", "{\"snapshot\":\"nope\"}");
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.body().get("error").asText()).isEqualTo("snapshot nope not found");
        assertThat(call(tokenA, "DELETE", "/v1/instances/idle/snapshots/nope", null).status()).isEqualTo(404);
        R noName = call(tokenA, "POST", "/v1/instances/idle/restore", "{}");
        assertThat(noName.status()).isEqualTo(400);
        assertThat(noName.body().get("error").asText()).isEqualTo("snapshot is required");
        R badName = call(tokenA, "POST", "/v1/instances/idle/snapshot", "{\"name\":\"../x\"}");
        assertThat(badName.status()).isEqualTo(400);
        assertThat(badName.body().get("error").asText()).startsWith("name must match");
        assertThat(call(tokenA, "POST", "/v1/instances/idle/pause", "{}").status()).as("pause takes no body").isEqualTo(400);
        assertThat(call(tokenA, "GET", "/v1/instances/idle", null).body().get("state").asText()).isEqualTo("STOPPED");
    }

    @Test
    void auditLogRecordsWhoDidWhat() throws Exception {
        call(tokenB, "GET", "/v1/volumes/v1", null);
        List<String> lines = Files.readAllLines(tmp.resolve("state/control/audit.log"));
        assertThat(lines).anySatisfy(l -> {
            JsonNode n = JSON.readTree(l);
            assertThat(n.get("method").asText()).isEqualTo("GET");
            assertThat(n.get("path").asText()).isEqualTo("/v1/volumes/v1");
            assertThat(n.get("status").asInt()).isEqualTo(404);
            assertThat(n.get("tenant").asText()).startsWith("t");
            assertThat(n.get("token").asText()).isNotEmpty();
        });
        assertThat(String.join("\n", lines)).doesNotContain(tokenA.substring(10));
    }

    @Test
    @Tag("kvm")
    void launchesAConfinedHypervisorAndDetectsItsDeath() throws Exception {
        R c = call(tokenA, "POST", "/v1/instances",
                "{\"name\":\"web1\",\"kernel\":\"tiny.bzImage\",\"memoryMib\":64,\"cpus\":1}");
        assertThat(c.status()).as(c.text()).isEqualTo(201);
        JsonNode v = c.body();
        long pid = v.get("pid").asLong();
        assertThat(v.get("state").asText()).isEqualTo("RUNNING");
        String console = Await.until("the guest's console output", () -> call(tokenA, "GET", "/v1/instances/web1/console", null).text(),
                out -> out.contains("@!"));
        assertThat(console).as("guest wrote to its serial console").contains("@!");
        String status = Files.readString(Path.of("/proc/" + pid + "/status"));
        int uid = v.get("uid").asInt();
        assertThat(status).containsPattern("Uid:\\s+" + uid + "\\s+" + uid);
        assertThat(status).containsPattern("NoNewPrivs:\\s+1");
        assertThat(status).containsPattern("Seccomp:\\s+2");
        assertThat(Files.readString(Path.of("/proc/" + pid + "/cgroup"))).contains("qingtian/");
        assertThat(Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/mnt")))
                .isNotEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")));
        List<String> cgroups = JSON.convertValue(v.get("cgroups"), new com.fasterxml.jackson.core.type.TypeReference<>() {});
        assertThat(cgroups).isNotEmpty().allSatisfy(d -> assertThat(Path.of(d)).isDirectory());

        new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
        JsonNode after = api.awaitState(tokenA, "web1", "EXITED");
        assertThat(after.get("lastExit").get("signal").asInt()).isEqualTo(9);
        assertThat(after.get("lastExit").get("meaning").asText()).contains("SIGKILL");
        assertThat(cgroups).allSatisfy(d -> assertThat(Path.of(d)).doesNotExist());

        // start again, stop on request: recorded as requested, not a failure
        assertThat(call(tokenA, "POST", "/v1/instances/web1/start", null).status()).isEqualTo(200);
        assertThat(call(tokenA, "POST", "/v1/instances/web1/start", null).status()).isEqualTo(409);
        JsonNode stopped = call(tokenA, "POST", "/v1/instances/web1/stop", null).body();
        assertThat(stopped.get("state").asText()).isEqualTo("STOPPED");
        assertThat(stopped.get("lastExit").get("requested").asBoolean()).isTrue();
        R att = call(tokenA, "POST", "/v1/instances/web1/attestation", "{\"nonce\":\"0badc0de\"}");
        assertThat(att.status()).as(att.text()).isEqualTo(200);
        assertThat(att.body().get("document").asText()).isNotEmpty();
        assertThat(call(tokenA, "DELETE", "/v1/instances/web1", null).status()).isEqualTo(200);
        assertThat(call(tokenA, "GET", "/v1/instances/web1", null).status()).isEqualTo(404);
    }
}
