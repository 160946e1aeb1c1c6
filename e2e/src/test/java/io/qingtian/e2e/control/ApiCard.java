package io.qingtian.e2e.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.card.api.ControlPlane;
import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.daemon.StateDir;
import io.qingtian.card.export.Exporters;
import io.qingtian.card.instance.HypervisorLauncher;
import io.qingtian.e2e.Await;
import io.qingtian.lab.Lab;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

/**
 * A real card with its HTTP control API on 127.0.0.1 (any free port) over a temp state
 * directory, and a client for it: the fixture of the control API tests. Each test class
 * starts its own card with its own uid range for confined hypervisors, so classes share
 * nothing.
 */
final class ApiCard implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    /** A response: status, the body as JSON (null when it is not JSON, e.g. a console) and as text. */
    record R(int status, JsonNode body, String text) {}

    /** Puts the boot images (and manifests) the test needs into the card's images directory. */
    @FunctionalInterface
    interface Images {
        void into(Path imagesDir) throws Exception;
    }

    final Path state;
    final CardDaemon card;
    final String admin;

    private ApiCard(Path state, CardDaemon card, String admin) {
        this.state = state;
        this.card = card;
        this.admin = admin;
    }

    /**
     * Starts a card on {@code root/state}; confined hypervisors get uids from {@code uidBase};
     * {@code trust} (an Ed25519 public key, or null) turns secure boot on.
     */
    static ApiCard start(Path root, int uidBase, Path trust, Images images) throws Exception {
        Path state = root.resolve("state");
        images.into(Files.createDirectories(state.resolve("images")));
        // confined hypervisors run as other uids: the path to the state dir must be traversable
        for (Path p : List.of(root, state)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx--x--x"));
        }
        CardDaemon card = CardDaemon.start(new StateDir(state), Exporters.vhostUser(), new ControlPlane.Options(trust, null,
                "127.0.0.1", 0, HypervisorLauncher.dist(Lab.defaultDist()), uidBase));
        return new ApiCard(state, card, Files.readString(state.resolve("control/admin.token")).trim());
    }

    String endpoint() {
        return card.plane().endpoint();
    }

    /** One request; {@code token} null sends none. */
    R call(String token, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(endpoint() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode n = null;
        try {
            n = JSON.readTree(r.body());
        } catch (Exception ignored) {
            // console is text
        }
        return new R(r.statusCode(), n, r.body());
    }

    /** Creates a tenant; returns its token. */
    String tenant(String name) throws Exception {
        R r = call(admin, "POST", "/v1/tenants", "{\"name\":\"" + name + "\"}");
        if (r.status() != 201) {
            throw new AssertionError("creating tenant " + name + ": " + r.text());
        }
        return r.body().get("token").asText();
    }

    /**
     * Waits (generously, see {@link Await}) until instance {@code name} is in state {@code want};
     * returns its view.
     */
    JsonNode awaitState(String token, String name, String want) throws Exception {
        return Await.until("instance " + name + " " + want, () -> call(token, "GET", "/v1/instances/" + name, null).body(),
                v -> v != null && v.path("state").asText().equals(want));
    }

    @Override
    public void close() {
        card.close();
    }
}
