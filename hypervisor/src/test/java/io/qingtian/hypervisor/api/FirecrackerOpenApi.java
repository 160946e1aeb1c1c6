package io.qingtian.hypervisor.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Firecracker's OpenAPI (Swagger 2.0) document, kept as test data, and a validator for the
 * parts of JSON Schema it uses: $ref, type, required, properties, enum, minimum/maximum,
 * items. Unknown properties are violations too: Firecracker rejects them in requests, and a
 * response field the document does not define would surprise its clients.
 */
final class FirecrackerOpenApi {
    private final JsonNode doc;

    private FirecrackerOpenApi(JsonNode doc) {
        this.doc = doc;
    }

    /**
     * Firecracker's OpenAPI document (src/firecracker/swagger/firecracker.yaml, Apache-2.0), or
     * null when it is not available. It is not committed here: this workplace's rules keep
     * material fetched from other repositories out of the project's commits. The tests look for
     * it at {@code $QT_FIRECRACKER_OPENAPI}, or at {@code shared/data/firecracker/firecracker.yaml}
     * in a folder above the working directory (the steering repository's shared/ data), and
     * validate every request and response against it when it is there.
     */
    static FirecrackerOpenApi load() throws IOException {
        Path doc = locate();
        if (doc == null) {
            System.err.println("FirecrackerOpenApi: Firecracker's OpenAPI document not found "
                    + "(set QT_FIRECRACKER_OPENAPI); conformance checks are skipped");
            return null;
        }
        try (InputStream in = Files.newInputStream(doc)) {
            return new FirecrackerOpenApi(new ObjectMapper(new YAMLFactory()).readTree(in));
        }
    }

    private static Path locate() {
        String env = System.getenv("QT_FIRECRACKER_OPENAPI");
        if (env != null && !env.isBlank()) {
            return Files.isRegularFile(Path.of(env)) ? Path.of(env) : null;
        }
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared/data/firecracker/firecracker.yaml");
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /** The path template ("/drives/{drive_id}") that matches a concrete path, or null. */
    String template(String path) {
        for (Iterator<String> it = doc.get("paths").fieldNames(); it.hasNext(); ) {
            String t = it.next();
            String regex = t.replaceAll("\\{[^}]+}", "[^/]+");
            if (path.matches(regex)) {
                return t;
            }
        }
        return null;
    }

    JsonNode operation(String method, String path) {
        String t = template(path);
        if (t == null) {
            return null;
        }
        return doc.get("paths").get(t).get(method.toLowerCase(Locale.ROOT));
    }

    /** The body schema of a request, or null if the operation takes none. */
    JsonNode requestSchema(String method, String path) {
        JsonNode op = operation(method, path);
        if (op == null || !op.has("parameters")) {
            return null;
        }
        for (JsonNode p : op.get("parameters")) {
            if ("body".equals(p.path("in").asText())) {
                return p.get("schema");
            }
        }
        return null;
    }

    /** The response object the document declares for {@code status} (or its default), or null. */
    JsonNode response(String method, String path, int status) {
        JsonNode op = operation(method, path);
        if (op == null) {
            return null;
        }
        JsonNode r = op.get("responses").get(Integer.toString(status));
        return r != null ? r : op.get("responses").get("default");
    }

    /** Violations of {@code schema} by {@code value}; empty when it conforms. */
    List<String> validate(JsonNode schema, JsonNode value) {
        List<String> out = new ArrayList<>();
        check(schema, value, "$", out);
        return out;
    }

    private JsonNode resolve(JsonNode schema) {
        while (schema.has("$ref")) {
            String ref = schema.get("$ref").asText();
            if (!ref.startsWith("#/definitions/")) {
                throw new IllegalArgumentException("unsupported $ref " + ref);
            }
            schema = doc.get("definitions").get(ref.substring("#/definitions/".length()));
        }
        return schema;
    }

    private void check(JsonNode schema, JsonNode v, String at, List<String> out) {
        schema = resolve(schema);
        String type = schema.path("type").asText("");
        switch (type) {
            case "object" -> {
                if (!v.isObject()) {
                    out.add(at + ": expected object");
                    return;
                }
                for (JsonNode req : schema.path("required")) {
                    if (!v.has(req.asText())) {
                        out.add(at + ": missing required '" + req.asText() + "'");
                    }
                }
                JsonNode props = schema.path("properties");
                for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
                    String f = it.next();
                    if (!props.has(f)) {
                        out.add(at + ": property '" + f + "' is not in the schema");
                    } else {
                        check(props.get(f), v.get(f), at + "." + f, out);
                    }
                }
            }
            case "string" -> {
                if (!v.isTextual()) {
                    out.add(at + ": expected string");
                }
            }
            case "integer" -> {
                if (!v.isIntegralNumber()) {
                    out.add(at + ": expected integer");
                }
            }
            case "number" -> {
                if (!v.isNumber()) {
                    out.add(at + ": expected number");
                }
            }
            case "boolean" -> {
                if (!v.isBoolean()) {
                    out.add(at + ": expected boolean");
                }
            }
            case "array" -> {
                if (!v.isArray()) {
                    out.add(at + ": expected array");
                    return;
                }
                int i = 0;
                for (JsonNode item : v) {
                    check(schema.get("items"), item, at + "[" + i++ + "]", out);
                }
            }
            default -> {
                // no type: properties only (e.g. Error has "type: object" anyway); accept
            }
        }
        if (schema.has("enum")) {
            boolean found = false;
            for (JsonNode e : schema.get("enum")) {
                found |= e.equals(v);
            }
            if (!found) {
                out.add(at + ": " + v + " is not one of " + schema.get("enum"));
            }
        }
        if (schema.has("minimum") && v.isNumber() && v.asDouble() < schema.get("minimum").asDouble()) {
            out.add(at + ": " + v + " below minimum " + schema.get("minimum"));
        }
        if (schema.has("maximum") && v.isNumber() && v.asDouble() > schema.get("maximum").asDouble()) {
            out.add(at + ": " + v + " above maximum " + schema.get("maximum"));
        }
    }
}
