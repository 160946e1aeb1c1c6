package io.qingtian.hypervisor.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.Iterator;
import java.util.Set;

/**
 * Strict reading of a request body: an object, only the fields the schema names, each of the
 * right JSON type. Firecracker (serde with deny_unknown_fields) rejects unknown fields too; we
 * do it by hand so every message names the field and the endpoint.
 */
final class JsonFields {
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final JsonNode node;
    private final String where;

    private JsonFields(JsonNode node, String where) {
        this.node = node;
        this.where = where;
    }

    /** Parses {@code body} as a JSON object whose fields are all in {@code allowed}. */
    static JsonFields parse(String body, String where, Set<String> allowed) {
        if (body == null || body.isBlank()) {
            throw ApiException.badRequest(where + ": the request needs a JSON body");
        }
        JsonNode n;
        try {
            n = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest(where + ": malformed JSON: " + e.getOriginalMessage());
        }
        return of(n, where, allowed);
    }

    static JsonFields of(JsonNode n, String where, Set<String> allowed) {
        if (n == null || !n.isObject()) {
            throw ApiException.badRequest(where + ": the body must be a JSON object");
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw ApiException.badRequest(where + ": unknown field '" + f + "'");
            }
        }
        return new JsonFields(n, where);
    }

    boolean has(String f) {
        return node.has(f) && !node.get(f).isNull();
    }

    String string(String f, boolean required) {
        JsonNode v = node.get(f);
        if (v == null || v.isNull()) {
            if (required) {
                throw ApiException.badRequest(where + ": missing required field '" + f + "'");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw ApiException.badRequest(where + ": field '" + f + "' must be a string");
        }
        return v.asText();
    }

    Boolean bool(String f, boolean required) {
        JsonNode v = node.get(f);
        if (v == null || v.isNull()) {
            if (required) {
                throw ApiException.badRequest(where + ": missing required field '" + f + "'");
            }
            return null;
        }
        if (!v.isBoolean()) {
            throw ApiException.badRequest(where + ": field '" + f + "' must be true or false");
        }
        return v.asBoolean();
    }

    /** An integer field within [min, max]. */
    Long integer(String f, boolean required, long min, long max) {
        JsonNode v = node.get(f);
        if (v == null || v.isNull()) {
            if (required) {
                throw ApiException.badRequest(where + ": missing required field '" + f + "'");
            }
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw ApiException.badRequest(where + ": field '" + f + "' must be an integer");
        }
        long x = v.asLong();
        if (x < min || x > max) {
            throw ApiException.badRequest(where + ": field '" + f + "' is " + x + ", allowed " + min + " to " + max);
        }
        return x;
    }

    /** A string field that must be one of {@code values}. */
    String oneOf(String f, boolean required, Set<String> values) {
        String s = string(f, required);
        if (s != null && !values.contains(s)) {
            throw ApiException.badRequest(where + ": field '" + f + "' is '" + s + "', allowed " + values);
        }
        return s;
    }

    /** A field that must be absent (or null): we do not support it. */
    void unsupported(String f, String why) {
        if (has(f)) {
            throw ApiException.badRequest(where + ": field '" + f + "' is not supported: " + why);
        }
    }

    JsonNode raw(String f) {
        return node.get(f);
    }
}
