package io.qingtian.e2e.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.lab.Lab;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packaged {@code qt} against a running card: {@code qt cloud ...} over HTTP, {@code qt card vpc ...} over the control socket. */
class CloudCliTest {
    @TempDir
    static Path tmp;
    static ApiCard api;
    static CardDaemon card;
    static String admin;
    static String tenant;

    record Result(int exit, String out, String err) {}

    static Result qt(Map<String, String> env, String... args) throws Exception {
        Path dist = Lab.defaultDist();
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", dist.resolve("qingtian-cli.jar") + ":" + dist.resolve("lib") + "/*", "io.qingtian.cli.Qt"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("QT_TOKEN");
        pb.environment().remove("QT_ENDPOINT");
        pb.environment().putAll(env);
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("qt " + String.join(" ", args) + " timed out");
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    static Map<String, String> as(String token) {
        return Map.of("QT_TOKEN", token, "QT_ENDPOINT", card.plane().endpoint());
    }

    @BeforeAll
    static void start() throws Exception {
        api = ApiCard.start(tmp, 642_000, null,
                images -> Files.write(images.resolve("ticker.bzImage"), TinyKernel.bzImage(TinyKernel.TICKER)));
        card = api.card;
        admin = api.admin;
        Result r = qt(Map.of(), "cloud", "tenant", "create", "alice", "--endpoint", card.plane().endpoint(),
                "--token", admin, "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        tenant = new ObjectMapper().readTree(r.out()).get("token").asText();
    }

    @AfterAll
    static void stop() {
        if (api != null) {
            api.close();
        }
    }

    @Test
    void volumesThroughTheCliAsTableAndJson() throws Exception {
        Result c = qt(as(tenant), "cloud", "volume", "create", "d1", "--size", "4M");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).contains("NAME").contains("d1").contains("4194304");
        JsonNode list = new ObjectMapper().readTree(qt(as(tenant), "cloud", "volume", "list", "-o", "json").out());
        assertThat(list.isArray()).isTrue();
        assertThat(list.get(0).get("name").asText()).isEqualTo("d1");
    }

    @Test
    void errorsAreOneLine() throws Exception {
        Result nf = qt(as(tenant), "cloud", "instance", "show", "web1");
        assertThat(nf.exit()).isEqualTo(2);
        assertThat(nf.err().strip()).isEqualTo("qt: instance web1 not found");
        Result noToken = qt(Map.of(), "cloud", "whoami");
        assertThat(noToken.exit()).isEqualTo(2);
        assertThat(noToken.err()).contains("no API token");
        Result down = qt(Map.of("QT_TOKEN", tenant, "QT_ENDPOINT", "http://127.0.0.1:1"), "cloud", "whoami");
        assertThat(down.err().strip()).startsWith("qt: cannot reach the card at http://127.0.0.1:1");
        Result bad = qt(as(tenant), "cloud", "volume", "create", "d2", "--size", "1K");
        assertThat(bad.err().strip()).startsWith("qt: size must be between");
    }

    @Test
    void lifecycleCommandsReportWrongStatesInOneLine() throws Exception {
        Result c = qt(as(tenant), "cloud", "instance", "create", "idle", "--kernel", "ticker.bzImage", "--memory-mib", "64",
                "--no-start");
        assertThat(c.exit()).as(c.err()).isZero();
        Result p = qt(as(tenant), "cloud", "instance", "pause", "idle");
        assertThat(p.exit()).isEqualTo(2);
        assertThat(p.err().strip()).isEqualTo("qt: cannot pause instance idle: it is STOPPED");
        Result r = qt(as(tenant), "cloud", "instance", "restore", "idle", "s1");
        assertThat(r.err().strip()).isEqualTo("qt: snapshot s1 not found");
        Result list = qt(as(tenant), "cloud", "instance", "snapshots", "idle", "-o", "json");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(new ObjectMapper().readTree(list.out()).isEmpty()).isTrue();
        Result help = qt(Map.of(), "cloud", "instance", "--help");
        assertThat(help.out()).contains("pause").contains("resume").contains("snapshot").contains("snapshots")
                .contains("snapshot-delete").contains("restore");
    }

    @Test
    @org.junit.jupiter.api.Tag("kvm")
    void pauseSnapshotStopRestoreThroughTheCli() throws Exception {
        Result c = qt(as(tenant), "cloud", "instance", "create", "t1", "--kernel", "ticker.bzImage", "--memory-mib", "64");
        assertThat(c.exit()).as(c.err()).isZero();
        assertThat(c.out()).contains("RUNNING");
        Result p = qt(as(tenant), "cloud", "instance", "pause", "t1");
        assertThat(p.exit()).as(p.err()).isZero();
        assertThat(p.out()).contains("NAME").contains("PAUSED");
        Result s = qt(as(tenant), "cloud", "instance", "snapshot", "t1", "first");
        assertThat(s.exit()).as(s.err()).isZero();
        assertThat(s.out().lines().findFirst().orElse("")).contains("NAME").contains("INSTANCE").contains("MILLIS");
        assertThat(s.out()).contains("first").contains("t1");
        assertThat(qt(as(tenant), "cloud", "instance", "stop", "t1").exit()).isZero();
        Result r = qt(as(tenant), "cloud", "instance", "restore", "t1", "first", "-o", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode v = new ObjectMapper().readTree(r.out());
        assertThat(v.get("state").asText()).isEqualTo("RUNNING");
        assertThat(v.get("restoredFrom").asText()).isEqualTo("first");
        assertThat(qt(as(tenant), "cloud", "instance", "resume", "t1").err().strip())
                .isEqualTo("qt: cannot resume instance t1: it is RUNNING (only a PAUSED instance can be resumed)");
        assertThat(qt(as(tenant), "cloud", "instance", "delete", "t1").exit()).isZero();
    }

    @Test
    void completionScriptCoversTheTree() throws Exception {
        Result r = qt(Map.of(), "completion", "bash");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("complete -F").contains("cloud").contains("instance");
    }

    @Test
    void networkCommandsReachTheRunningCard() throws Exception {
        Result r = qt(Map.of(), "card", "vpc", "create", "ops", "--cidr", "10.9.0.0/16", "--state", tmp.resolve("state").toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(card.plane().network().config().vpcs()).anySatisfy(v -> assertThat(v.name()).isEqualTo("ops"));
        Result dup = qt(Map.of(), "card", "vpc", "create", "ops", "--cidr", "10.9.0.0/16", "--state", tmp.resolve("state").toString());
        assertThat(dup.exit()).isNotZero();
        assertThat(dup.err()).contains("ops");
    }
}
