package io.qingtian.trust.release;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.Sha384;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A card software release: its version (the anti-rollback number) and the SHA-384 of every jar,
 * by path relative to the install directory ({@code qingtian-cli.jar}, {@code lib/x.jar}).
 * Signed like a boot manifest: {@code release.json} plus a raw Ed25519 {@code release.json.sig}
 * by the release key.
 * <pre>
 * {"format":"qingtian-release-manifest/1","version":7,"jars":[{"name":"lib/a.jar","sha384":".."}]}
 * </pre>
 */
public record ReleaseManifest(long version, Map<String, byte[]> jars) {
    public static final String FORMAT = "qingtian-release-manifest/1";
    public static final String FILE = "release.json";
    public static final String SIGNATURE_FILE = "release.json.sig";
    public static final int MAX_BYTES = 1 << 20;
    private static final int MAX_JARS = 4096;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8).maxNumberLength(20).build());
    }

    public ReleaseManifest {
        Map<String, byte[]> copy = new LinkedHashMap<>();
        jars.forEach((k, v) -> copy.put(k, v.clone()));
        jars = java.util.Collections.unmodifiableMap(copy);
    }

    public byte[] toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.put("version", version);
        ArrayNode arr = root.putArray("jars");
        jars.forEach((name, digest) -> arr.addObject().put("name", name).put("sha384", Hex.of(digest)));
        try {
            return (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ReleaseManifest parse(String what, byte[] bytes) throws TrustException {
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new TrustException(what + ": release manifest is not valid JSON");
        }
        if (root == null || !root.isObject()) {
            throw new TrustException(what + ": release manifest is not a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!Set.of("format", "version", "jars").contains(f)) {
                throw new TrustException(what + ": unknown field \"" + f + "\"");
            }
        }
        if (!FORMAT.equals(root.path("format").asText(null))) {
            throw new TrustException(what + ": \"format\" must be \"" + FORMAT + "\"");
        }
        JsonNode v = root.get("version");
        if (v == null || !v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) {
            throw new TrustException(what + ": \"version\" must be a non-negative integer");
        }
        JsonNode arr = root.get("jars");
        if (arr == null || !arr.isArray() || arr.isEmpty() || arr.size() > MAX_JARS) {
            throw new TrustException(what + ": \"jars\" must be a non-empty array");
        }
        Map<String, byte[]> jars = new LinkedHashMap<>();
        for (JsonNode j : arr) {
            String name = j.path("name").asText("");
            if (!validName(name)) {
                throw new TrustException(what + ": invalid jar name \"" + name + "\"");
            }
            byte[] d = Hex.parse(what + ": sha384 of " + name, j.path("sha384").asText(""));
            if (d.length != Sha384.LENGTH) {
                throw new TrustException(what + ": sha384 of " + name + " is not 48 bytes");
            }
            if (jars.put(name, d) != null) {
                throw new TrustException(what + ": jar " + name + " listed twice");
            }
        }
        return new ReleaseManifest(v.asLong(), jars);
    }

    /** Relative, normalized, no "..": a manifest cannot point outside its install directory. */
    static boolean validName(String name) {
        if (name.isEmpty() || name.startsWith("/") || !name.endsWith(".jar") || name.indexOf('\0') >= 0) {
            return false;
        }
        for (String part : name.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ReleaseManifest m) || m.version != version || !m.jars.keySet().equals(jars.keySet())) {
            return false;
        }
        return jars.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue(), m.jars.get(e.getKey())));
    }

    @Override
    public int hashCode() {
        return Long.hashCode(version) ^ jars.keySet().hashCode();
    }
}
