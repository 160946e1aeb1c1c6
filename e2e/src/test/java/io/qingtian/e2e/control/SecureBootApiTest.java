package io.qingtian.e2e.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.card.api.ControlPlane;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.instance.HypervisorLauncher;
import io.qingtian.lab.Lab;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.image.ManifestSigner;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A card started with trust anchors: secure boot through the API, measured launches, restart policy. */
@Tag("kvm")
class SecureBootApiTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();
    @TempDir
    static Path tmp;
    static CardDaemon card;
    static String token;

    static JsonNode call(int expect, String method, String path, String body) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(card.plane().endpoint() + path))
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build();
        HttpResponse<String> resp = HTTP.send(r, HttpResponse.BodyHandlers.ofString());
        assertThat(resp.statusCode()).as(method + " " + path + " -> " + resp.body()).isEqualTo(expect);
        return JSON.readTree(resp.body());
    }

    @BeforeAll
    static void start() throws Exception {
        Path state = tmp.resolve("state");
        Path images = Files.createDirectories(state.resolve("images"));
        for (Path p : List.of(tmp, state)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx--x--x"));
        }
        KeyPair kp = Ed25519.generate();
        Path pub = tmp.resolve("image.pub");
        KeyFiles.writePublic(pub, kp.getPublic(), false);
        Files.write(images.resolve("good.bzImage"), TinyKernel.bzImage());
        ManifestSigner.sign(kp.getPrivate(), images.resolve("good.bzImage"), Optional.empty(), "console=ttyS0",
                images.resolve("good.manifest"));
        Files.write(images.resolve("evil.bzImage"), TinyKernel.bzImage());
        ManifestSigner.sign(kp.getPrivate(), images.resolve("evil.bzImage"), Optional.empty(), "console=ttyS0",
                images.resolve("evil.manifest"));
        byte[] k = TinyKernel.bzImage();
        k[k.length - 1] ^= 1; // the image changed after signing
        Files.write(images.resolve("evil.bzImage"), k);
        card = CardDaemon.start(new StateDir(state), Exporters.vhostUser(), new ControlPlane.Options(pub, null,
                "127.0.0.1", 0, HypervisorLauncher.dist(Lab.defaultDist()), 641_000));
        String admin = Files.readString(state.resolve("control/admin.token")).trim();
        token = admin;
        token = call(201, "POST", "/v1/tenants", "{\"name\":\"alice\"}").get("token").asText();
    }

    @AfterAll
    static void stop() {
        if (card != null) {
            card.close();
        }
    }

    @Test
    void refusesATamperedImageNamingTheFile() throws Exception {
        JsonNode r = call(400, "POST", "/v1/instances", "{\"name\":\"evil\",\"manifest\":\"evil.manifest\"}");
        assertThat(r.get("error").asText()).contains("secure boot refused").contains("evil.bzImage");
        call(404, "GET", "/v1/instances/evil", null);
    }

    @Test
    void launchesAVerifiedImageMeasuredAndRestartsItOnFailure() throws Exception {
        JsonNode v = call(201, "POST", "/v1/instances",
                "{\"name\":\"good\",\"manifest\":\"good.manifest\",\"memoryMib\":64,\"restartPolicy\":\"on-failure\"}");
        assertThat(v.get("secureBoot").asBoolean()).isTrue();
        assertThat(v.get("measurement").asText()).hasSize(96);
        assertThat(Files.exists(tmp.resolve("state/measurements/" + v.get("id").asText() + ".eventlog.json"))).isTrue();
        JsonNode doc = call(200, "POST", "/v1/instances/good/attestation", "{\"nonce\":\"0102\"}");
        assertThat(doc.get("document").asText()).isNotEmpty();

        long pid = v.get("pid").asLong();
        new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
        JsonNode after = null;
        for (int i = 0; i < 100; i++) {
            Thread.sleep(100);
            after = call(200, "GET", "/v1/instances/good", null);
            if (after.get("restarts").asInt() == 1 && after.get("state").asText().equals("RUNNING")) {
                break;
            }
        }
        assertThat(after.get("restarts").asInt()).isEqualTo(1);
        assertThat(after.get("state").asText()).isEqualTo("RUNNING");
        assertThat(after.get("pid").asLong()).isNotEqualTo(pid);
        assertThat(after.get("lastExit").get("signal").asInt()).isEqualTo(9);
        call(200, "DELETE", "/v1/instances/good", null);
    }
}
