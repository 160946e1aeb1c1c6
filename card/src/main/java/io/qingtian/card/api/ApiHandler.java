package io.qingtian.card.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.qingtian.card.audit.AuditLog;
import io.qingtian.card.tenant.Principal;
import io.qingtian.card.tenant.TenantStore;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * HTTP edge of the control API (Jetty core handler, no servlets): authenticate the Bearer
 * token, route {@code METHOD /v1/...}, decode the body strictly, call {@link ApiService},
 * answer JSON, append one audit record. Client mistakes are 4xx with {@code {"error": "..."}};
 * only a card bug is a 500 (and is logged with its stack).
 */
public final class ApiHandler extends Handler.Abstract {
    private static final Logger LOG = Logger.getLogger(ApiHandler.class.getName());
    static final int MAX_BODY = 64 * 1024;
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();

    static {
        // strict types: 8 is not "8", "8" is not 8, 1.5 is not 1, true is not "true"
        var fail = com.fasterxml.jackson.databind.cfg.CoercionAction.Fail;
        JSON.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Textual)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer, fail)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float, fail)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Boolean, fail);
        JSON.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Integer)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.String, fail)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Float, fail);
        JSON.coercionConfigFor(com.fasterxml.jackson.databind.type.LogicalType.Boolean)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.Integer, fail)
                .setCoercion(com.fasterxml.jackson.databind.cfg.CoercionInputShape.String, fail);
    }

    private final TenantStore tenants;
    private final ApiService api;
    private final AuditLog audit;

    public ApiHandler(TenantStore tenants, ApiService api, AuditLog audit) {
        this.tenants = tenants;
        this.api = api;
        this.audit = audit;
    }

    /** The routed outcome before it is written. */
    record Reply(int status, String contentType, byte[] body) {}

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        String method = request.getMethod();
        String path = request.getHttpURI().getPath();
        Principal who = null;
        Reply reply;
        try {
            // The body (at most MAX_BODY) is read before anything can refuse the request: an unread
            // body makes Jetty close the connection after the answer, which a client that pools
            // connections (java.net.http) may meet as "received no bytes" on its next request.
            byte[] body = readBody(request);
            String auth = request.getHeaders().get(HttpHeader.AUTHORIZATION);
            if (auth == null || !auth.startsWith("Bearer ")) {
                throw new ApiException(401, "missing Authorization: Bearer TOKEN");
            }
            who = tenants.authenticate(auth.substring(7).trim())
                    .orElseThrow(() -> new ApiException(401, "invalid or revoked token"));
            reply = route(who, method, path, body, request.getHttpURI().getQuery());
        } catch (ApiException e) {
            reply = error(e.status(), e.getMessage());
        } catch (UserError e) {
            String m = e.getMessage();
            reply = error(m != null && m.contains("already exists") ? 409 : 400, m);
        } catch (java.util.NoSuchElementException e) {
            reply = error(404, "not found");
        } catch (Exception e) {
            LOG.log(Level.SEVERE, method + " " + path + " hit a bug", e);
            reply = error(500, "internal error (see the card's log)");
        }
        audit.record(who == null ? null : who.tenantId(), who == null ? null : who.tokenId(), method, path,
                reply.status(), reply.status() < 400 ? "ok" : errorText(reply));
        response.setStatus(reply.status());
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, reply.contentType());
        if (reply.status() == 401) {
            response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"qingtian-card\"");
        }
        response.write(true, ByteBuffer.wrap(reply.body()), callback);
        return true;
    }

    private static String errorText(Reply r) {
        try {
            return JSON.readTree(r.body()).path("error").asText();
        } catch (IOException e) {
            return "error";
        }
    }

    private static byte[] readBody(Request request) throws IOException {
        long declared = request.getLength();
        if (declared > MAX_BODY) {
            throw new ApiException(413, "request body over " + MAX_BODY + " bytes");
        }
        try (InputStream in = Request.asInputStream(request)) {
            byte[] b = in.readNBytes(MAX_BODY + 1);
            if (b.length > MAX_BODY) {
                throw new ApiException(413, "request body over " + MAX_BODY + " bytes");
            }
            return b;
        }
    }

    static Reply json(int status, Object value) throws JsonProcessingException {
        return new Reply(status, "application/json", JSON.writeValueAsBytes(value));
    }

    static Reply error(int status, String message) {
        try {
            return new Reply(status, "application/json", JSON.writeValueAsBytes(Map.of("error",
                    message == null ? "error" : message.lines().findFirst().orElse(""))));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static <T> T body(byte[] b, Class<T> type) {
        if (b.length == 0) {
            throw ApiException.badRequest("a JSON body is required");
        }
        try {
            T v = JSON.readValue(b, type);
            if (v == null) {
                throw ApiException.badRequest("the body must be a JSON object");
            }
            return v;
        } catch (UnrecognizedPropertyException e) {
            throw ApiException.badRequest("unknown field '" + e.getPropertyName() + "'");
        } catch (com.fasterxml.jackson.databind.exc.MismatchedInputException e) {
            String field = e.getPath().isEmpty() ? "body" : e.getPath().getLast().getFieldName();
            throw ApiException.badRequest("wrong type for " + (field == null ? "a list element" : "'" + field + "'")
                    + ": " + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw ApiException.badRequest("malformed JSON: " + (m == null ? "" : m.lines().findFirst().orElse("")));
        }
    }

    private static void noBody(byte[] b) {
        if (b.length != 0) {
            throw ApiException.badRequest("this request takes no body");
        }
    }

    private static void requireAdmin(Principal p) {
        if (!p.admin()) {
            throw new ApiException(403, "this operation needs the operator's token");
        }
    }

    private static void requireTenant(Principal p) {
        if (p.admin()) {
            throw new ApiException(403, "the operator's token has no resources; use a tenant token");
        }
    }

    Reply route(Principal p, String method, String path, byte[] b, String query) throws Exception {
        if (path == null || !path.startsWith("/v1/")) {
            throw ApiException.notFound("path", String.valueOf(path));
        }
        String[] s = path.substring(4).split("/", -1);
        for (String seg : s) {
            if (seg.isEmpty()) {
                throw ApiException.notFound("path", path);
            }
        }
        String m = method;
        String r = s[0];
        int n = s.length;
        if (r.equals("whoami") && n == 1 && m.equals("GET")) {
            return json(200, api.whoami(p));
        }
        if (r.equals("tenants")) {
            requireAdmin(p);
            if (n == 1 && m.equals("GET")) {
                noBody(b);
                return json(200, api.listTenants());
            }
            if (n == 1 && m.equals("POST")) {
                return json(201, api.createTenant(body(b, ApiRequests.CreateTenant.class)));
            }
            if (n == 3 && s[2].equals("tokens") && m.equals("POST")) {
                noBody(b);
                return json(201, api.issueToken(s[1]));
            }
            throw methodOrPath(m, path);
        }
        requireTenant(p);
        switch (r) {
            case "tokens" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.myTokens(p));
                }
                if (n == 1 && m.equals("POST")) {
                    noBody(b);
                    return json(201, api.newToken(p));
                }
                if (n == 2 && m.equals("DELETE")) {
                    return json(200, api.revokeToken(p, s[1]));
                }
            }
            case "volumes" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.listVolumes(p));
                }
                if (n == 1 && m.equals("POST")) {
                    return json(201, api.createVolume(p, body(b, ApiRequests.CreateVolume.class)));
                }
                if (n == 2 && m.equals("GET")) {
                    return json(200, api.getVolume(p, s[1]));
                }
                if (n == 2 && m.equals("DELETE")) {
                    return json(200, api.deleteVolume(p, s[1]));
                }
            }
            case "instances" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.listInstances(p));
                }
                if (n == 1 && m.equals("POST")) {
                    return json(201, api.createInstance(p, body(b, ApiRequests.CreateInstance.class)));
                }
                if (n == 2 && m.equals("GET")) {
                    return json(200, api.getInstance(p, s[1]));
                }
                if (n == 2 && m.equals("DELETE")) {
                    return json(200, api.deleteInstance(p, s[1]));
                }
                if (n == 3 && m.equals("POST") && java.util.Set.of("start", "stop", "reboot", "pause", "resume").contains(s[2])) {
                    noBody(b);
                    return json(200, api.instanceAction(p, s[1], s[2]));
                }
                if (n == 3 && m.equals("GET") && s[2].equals("console")) {
                    return new Reply(200, "text/plain; charset=utf-8", api.console(p, s[1], 256 * 1024));
                }
                if (n == 3 && m.equals("POST") && s[2].equals("attestation")) {
                    return json(200, api.attest(p, s[1], body(b, ApiRequests.Attest.class)));
                }
                if (n == 3 && m.equals("POST") && s[2].equals("snapshot")) {
                    return json(201, api.createSnapshot(p, s[1], body(b, ApiRequests.CreateSnapshot.class)));
                }
                if (n == 3 && m.equals("GET") && s[2].equals("snapshots")) {
                    noBody(b);
                    return json(200, api.listSnapshots(p, s[1]));
                }
                if (n == 4 && m.equals("DELETE") && s[2].equals("snapshots")) {
                    noBody(b);
                    return json(200, api.deleteSnapshot(p, s[1], s[3]));
                }
                if (n == 3 && m.equals("POST") && s[2].equals("restore")) {
                    return json(200, api.restore(p, s[1], body(b, ApiRequests.Restore.class)));
                }
            }
            case "vpcs" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.listVpcs(p));
                }
                if (n == 1 && m.equals("POST")) {
                    return json(201, api.createVpc(p, body(b, ApiRequests.CreateVpc.class)));
                }
            }
            case "subnets" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.listSubnets(p));
                }
                if (n == 1 && m.equals("POST")) {
                    return json(201, api.createSubnet(p, body(b, ApiRequests.CreateSubnet.class)));
                }
            }
            case "security-groups" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.listSecurityGroups(p));
                }
                if (n == 1 && m.equals("POST")) {
                    return json(201, api.createSecurityGroup(p, body(b, ApiRequests.CreateSecurityGroup.class)));
                }
                if (n == 3 && s[2].equals("rules") && m.equals("POST")) {
                    return json(201, api.addRule(p, s[1], body(b, ApiRequests.AddRule.class)));
                }
            }
            case "nics" -> {
                if (n == 1 && m.equals("GET")) {
                    return json(200, api.listNics(p));
                }
                if (n == 1 && m.equals("POST")) {
                    return json(201, api.createNic(p, body(b, ApiRequests.CreateNic.class)));
                }
                if (n == 2 && m.equals("DELETE")) {
                    return json(200, api.deleteNic(p, s[1]));
                }
            }
            default -> throw ApiException.notFound("path", path);
        }
        throw methodOrPath(m, path);
    }

    private static ApiException methodOrPath(String method, String path) {
        return new ApiException(404, "no route " + method + " " + path);
    }
}
