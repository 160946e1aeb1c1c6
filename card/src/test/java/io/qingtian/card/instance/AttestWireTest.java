package io.qingtian.card.instance;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.qingtian.card.fs.Json;
import io.qingtian.trust.CardTrust;
import io.qingtian.trust.attest.AttestationVerifier;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control-socket "attest" op: documents by the card's per-boot key, one-line errors for bad requests. */
class AttestWireTest {
    @TempDir
    static Path dir;
    static CardTrust trust;

    @BeforeAll
    static void open() throws Exception {
        trust = CardTrust.open(dir.resolve("state"), null, null);
    }

    static JsonNode call(String line) throws Exception {
        return Json.MAPPER.readTree(AttestWire.serve(null, trust, line));
    }

    @Test
    void cardDocumentsVerifyAndShareTheAttestationCertificate() throws Exception {
        JsonNode a = call("{\"op\":\"attest\",\"nonce\":\"0102\"}");
        JsonNode b = call("{\"op\":\"attest\",\"nonce\":\"0304\",\"userData\":\"aGk=\"}");
        var da = AttestationVerifier.verify(Base64.getDecoder().decode(a.get("document").asText()),
                trust.identity().rootCertificate(), new byte[] {1, 2}, Map.of(), Instant.now());
        var db = AttestationVerifier.verify(Base64.getDecoder().decode(b.get("document").asText()),
                trust.identity().rootCertificate(), new byte[] {3, 4}, Map.of(), Instant.now());
        assertThat(db.certificate()).isEqualTo(da.certificate());
        assertThat(db.userData()).hasValueSatisfying(u -> assertThat(u).isEqualTo("hi".getBytes()));
    }

    @Test
    void badRequestsAreOneLineErrors() throws Exception {
        assertThat(call("{").get("error").asText()).contains("not JSON");
        assertThat(call("{\"op\":\"attest\"}").get("error").asText()).contains("\"nonce\" is required");
        assertThat(call("{\"op\":\"attest\",\"nonce\":\"zz\"}").get("error").asText()).contains("not hex");
        assertThat(call("{\"op\":\"attest\",\"nonce\":7}").get("error").asText()).contains("must be a string");
        assertThat(call("{\"op\":\"attest\",\"nonce\":\"" + "00".repeat(1025) + "\"}").get("error").asText()).contains("1..1024");
        assertThat(call("{\"op\":\"attest\",\"nonce\":\"00\",\"userData\":\"***\"}").get("error").asText()).contains("not base64");
        assertThat(call("{\"op\":\"attest\",\"nonce\":\"00\",\"instance\":5}").get("error").asText()).contains("must be a string");
        assertThat(Json.MAPPER.readTree(AttestWire.serve(null, null, "{\"op\":\"attest\",\"nonce\":\"00\"}")).get("error").asText())
                .contains("no trust service");
    }
}
