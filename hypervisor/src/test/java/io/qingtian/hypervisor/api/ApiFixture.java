package io.qingtian.hypervisor.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.hypervisor.Console;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One hypervisor API on a real Unix socket in this JVM, with a client, and every response
 * checked against Firecracker's OpenAPI document as it arrives.
 */
final class ApiFixture implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static FirecrackerOpenApi spec;

    final VmmController vmm;
    final ApiServer server;
    final UnixHttp http;
    final ByteArrayOutputStream console = new ByteArrayOutputStream();

    ApiFixture(Path socket) throws IOException {
        vmm = new VmmController("test-vm", new Console(console, null));
        server = ApiServer.start(socket, new FirecrackerApi(vmm));
        http = new UnixHttp(socket);
    }

    private static boolean specLoaded;

    /** Firecracker's OpenAPI document, or null when it is not available (see FirecrackerOpenApi.load). */
    static synchronized FirecrackerOpenApi spec() throws IOException {
        if (!specLoaded) {
            spec = FirecrackerOpenApi.load();
            specLoaded = true;
        }
        return spec;
    }

    /** Sends a request; asserts the response (status and body) is one the document declares. */
    UnixHttp.Reply call(String method, String path, String json) throws IOException {
        UnixHttp.Reply r = http.send(method, path, json);
        checkResponse(method, path, r);
        return r;
    }

    /** Sends a request that must conform to the document, and must succeed with 204. */
    void ok(String method, String path, String json) throws IOException {
        FirecrackerOpenApi s = spec();
        if (s != null) {
            JsonNode schema = s.requestSchema(method, path);
            assertThat(schema).as("%s %s takes a body in the OpenAPI document", method, path).isNotNull();
            assertThat(s.validate(schema, JSON.readTree(json))).as("request %s %s %s", method, path, json).isEmpty();
        }
        UnixHttp.Reply r = call(method, path, json);
        assertThat(r.status()).as("%s %s -> %s", method, path, r.body()).isEqualTo(204);
    }

    /** Asserts a 400 whose fault_message contains {@code fragment}. */
    String fault(String method, String path, String json, String fragment) throws IOException {
        UnixHttp.Reply r = call(method, path, json);
        assertThat(r.status()).as("%s %s %s -> %s", method, path, json, r.body()).isEqualTo(400);
        String msg = JSON.readTree(r.body()).get("fault_message").asText();
        assertThat(msg).containsIgnoringCase(fragment);
        return msg;
    }

    String state() throws IOException {
        UnixHttp.Reply r = call("GET", "/", null);
        assertThat(r.status()).isEqualTo(200);
        return JSON.readTree(r.body()).get("state").asText();
    }

    static void checkResponse(String method, String path, UnixHttp.Reply r) throws IOException {
        assertThat(r.status()).as("never a 5xx").isLessThan(500);
        if (r.status() >= 400) {
            assertThat(JSON.readTree(r.body()).has("fault_message")).as("error shape {fault_message}").isTrue();
        }
        FirecrackerOpenApi s = spec();
        if (s == null) {
            return;
        }
        if (s.template(path) == null || s.operation(method, path) == null) {
            // not a documented operation: the only documented answer shape is the Error object
            assertThat(r.status()).isEqualTo(400);
            assertThat(s.validate(JSON.readTree("{\"$ref\":\"#/definitions/Error\"}"), JSON.readTree(r.body()))).isEmpty();
            return;
        }
        JsonNode resp = s.response(method, path, r.status());
        assertThat(resp).as("status %d of %s %s is declared", r.status(), method, path).isNotNull();
        JsonNode schema = resp.get("schema");
        if (schema == null) {
            assertThat(r.body()).as("no body for %d", r.status()).isEmpty();
        } else {
            assertThat(s.validate(schema, JSON.readTree(r.body()))).as("response %s %s: %s", method, path, r.body()).isEmpty();
            if (r.status() >= 400) {
                assertThat(JSON.readTree(r.body()).has("fault_message")).isTrue();
            }
        }
        assertThat(r.status()).as("never a 5xx").isLessThan(500);
    }

    @Override
    public void close() throws IOException {
        http.close();
        server.close();
        vmm.close();
    }
}
