package io.qingtian.e2e.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.qingtian.e2e.Await;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.image.ManifestSigner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A card started with trust anchors: secure boot through the API, measured launches, restart policy. */
@Tag("kvm")
class SecureBootApiTest {
    @TempDir
    static Path tmp;
    static ApiCard api;
    static String token;

    static JsonNode call(int expect, String method, String path, String body) throws Exception {
        ApiCard.R r = api.call(token, method, path, body);
        assertThat(r.status()).as(method + " " + path + " -> " + r.text()).isEqualTo(expect);
        return r.body();
    }

    @BeforeAll
    static void start() throws Exception {
        KeyPair kp = Ed25519.generate();
        Path pub = tmp.resolve("image.pub");
        KeyFiles.writePublic(pub, kp.getPublic(), false);
        api = ApiCard.start(tmp, 641_000, pub, images -> {
            Files.write(images.resolve("good.bzImage"), TinyKernel.bzImage());
            ManifestSigner.sign(kp.getPrivate(), images.resolve("good.bzImage"), Optional.empty(), "console=ttyS0",
                    images.resolve("good.manifest"));
            Files.write(images.resolve("evil.bzImage"), TinyKernel.bzImage());
            ManifestSigner.sign(kp.getPrivate(), images.resolve("evil.bzImage"), Optional.empty(), "console=ttyS0",
                    images.resolve("evil.manifest"));
            byte[] k = TinyKernel.bzImage();
            k[k.length - 1] ^= 1; // the image changed after signing
            Files.write(images.resolve("evil.bzImage"), k);
        });
        token = api.tenant("alice");
    }

    @AfterAll
    static void stop() {
        if (api != null) {
            api.close();
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
        // The restart comes after a back-off and a new hypervisor JVM's start: wait for it.
        JsonNode after = Await.until("the restart of instance good", () -> call(200, "GET", "/v1/instances/good", null),
                a -> a.get("restarts").asInt() >= 1 && a.get("state").asText().equals("RUNNING"));
        assertThat(after.get("restarts").asInt()).isEqualTo(1);
        assertThat(after.get("state").asText()).isEqualTo("RUNNING");
        assertThat(after.get("pid").asLong()).isNotEqualTo(pid);
        assertThat(after.get("lastExit").get("signal").asInt()).isEqualTo(9);
        call(200, "DELETE", "/v1/instances/good", null);
    }
}
