package io.qingtian.card.cli.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The CLI's side of the control API: one request, JSON back, any 4xx/5xx a one-line {@link UserError}. */
public final class ApiClient {
    static final ObjectMapper JSON = new ObjectMapper();
    private final String endpoint;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public ApiClient(String endpoint, String token) {
        if (token == null || token.isBlank()) {
            throw new UserError("no API token: pass --token or set QT_TOKEN");
        }
        this.endpoint = endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
        this.token = token.trim();
    }

    /** @param what e.g. "instance web1", used in the not-found message */
    public String call(String method, String path, Object body, String what) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(endpoint + path)).timeout(Duration.ofSeconds(120))
                    .header("Authorization", "Bearer " + token)
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() >= 400) {
                String msg = r.body();
                try {
                    msg = JSON.readTree(r.body()).path("error").asText(r.body());
                } catch (IOException ignored) {
                    // not JSON
                }
                if (r.statusCode() == 404 && what != null) {
                    throw new UserError(what + " not found");
                }
                throw new UserError(msg);
            }
            return r.body();
        } catch (ConnectException e) {
            throw new UserError("cannot reach the card at " + endpoint + " (is `qt card run` up? set QT_ENDPOINT)");
        } catch (IOException e) {
            throw new UserError("control API at " + endpoint + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UserError("interrupted");
        } catch (IllegalArgumentException e) {
            throw new UserError("bad endpoint " + endpoint + ": " + e.getMessage());
        }
    }

    public JsonNode json(String method, String path, Object body, String what) {
        try {
            return JSON.readTree(call(method, path, body, what));
        } catch (IOException e) {
            throw new UserError("bad reply from the card: " + e.getMessage());
        }
    }
}
