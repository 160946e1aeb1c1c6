package io.qingtian.trust.image;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.Sha384;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Optional;
import java.util.Set;

/**
 * What an instance boots, and the SHA-384 of each part. The signed bytes are the JSON file
 * exactly as written; the detached signature ({@code MANIFEST.sig}) is a raw Ed25519 signature
 * of those bytes.
 * <pre>
 * {
 *   "format": "qingtian-boot-manifest/1",
 *   "kernel":    { "path": "vmlinuz",    "sha384": "&lt;96 hex&gt;" },
 *   "initramfs": { "path": "initrd.img", "sha384": "&lt;96 hex&gt;" },   (optional)
 *   "cmdline":   { "text": "console=ttyS0", "sha384": "&lt;96 hex&gt;" }  (sha384 of the UTF-8 text)
 * }
 * </pre>
 * Paths are relative to the manifest's directory, or absolute.
 */
public record BootManifest(FileRef kernel, Optional<FileRef> initramfs, String cmdline, byte[] cmdlineSha384) {
    public static final String FORMAT = "qingtian-boot-manifest/1";
    public static final int MAX_BYTES = 64 * 1024;
    public static final int MAX_CMDLINE = 4096;

    /** A file the manifest names and the digest it must have. */
    public record FileRef(String path, byte[] sha384) {
        public FileRef {
            sha384 = sha384.clone();
        }

        @Override
        public byte[] sha384() {
            return sha384.clone();
        }

        public Path resolve(Path manifestDir) {
            Path p = Path.of(path);
            return p.isAbsolute() ? p : manifestDir.resolve(p);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof FileRef f && f.path.equals(path) && Arrays.equals(f.sha384, sha384);
        }

        @Override
        public int hashCode() {
            return path.hashCode() * 31 + Arrays.hashCode(sha384);
        }
    }

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(8).maxStringLength(MAX_BYTES).maxNumberLength(32).build());
    }

    public BootManifest {
        cmdlineSha384 = cmdlineSha384.clone();
    }

    @Override
    public byte[] cmdlineSha384() {
        return cmdlineSha384.clone();
    }

    public static BootManifest of(FileRef kernel, Optional<FileRef> initramfs, String cmdline) {
        return new BootManifest(kernel, initramfs, cmdline, Sha384.of(cmdline.getBytes(StandardCharsets.UTF_8)));
    }

    /** The bytes that get signed: stable field order, two-space indentation, trailing newline. */
    public byte[] toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        root.set("kernel", fileNode(kernel));
        initramfs.ifPresent(i -> root.set("initramfs", fileNode(i)));
        ObjectNode c = root.putObject("cmdline");
        c.put("text", cmdline);
        c.put("sha384", Hex.of(cmdlineSha384));
        try {
            return (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ObjectNode fileNode(FileRef f) {
        ObjectNode n = JSON.createObjectNode();
        n.put("path", f.path());
        n.put("sha384", Hex.of(f.sha384()));
        return n;
    }

    /** Parses and validates; {@code what} names the manifest file in errors. */
    public static BootManifest parse(String what, byte[] bytes) throws TrustException {
        if (bytes.length > MAX_BYTES) {
            throw new TrustException(what + ": manifest too large (" + bytes.length + " bytes)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(bytes);
        } catch (java.io.IOException e) {
            throw new TrustException(what + ": not valid JSON: " + firstLine(e.getMessage()));
        }
        if (root == null || !root.isObject()) {
            throw new TrustException(what + ": manifest is not a JSON object");
        }
        onlyFields(what, "manifest", root, Set.of("format", "kernel", "initramfs", "cmdline"));
        JsonNode format = root.get("format");
        if (format == null || !format.isTextual() || !format.asText().equals(FORMAT)) {
            throw new TrustException(what + ": \"format\" must be \"" + FORMAT + "\"");
        }
        FileRef kernel = fileRef(what, "kernel", root.get("kernel"));
        Optional<FileRef> initramfs = root.has("initramfs")
                ? Optional.of(fileRef(what, "initramfs", root.get("initramfs"))) : Optional.empty();
        JsonNode c = root.get("cmdline");
        if (c == null || !c.isObject()) {
            throw new TrustException(what + ": \"cmdline\" must be an object {text, sha384}");
        }
        onlyFields(what, "cmdline", c, Set.of("text", "sha384"));
        JsonNode text = c.get("text");
        if (text == null || !text.isTextual()) {
            throw new TrustException(what + ": \"cmdline.text\" must be a string");
        }
        if (text.asText().length() > MAX_CMDLINE) {
            throw new TrustException(what + ": \"cmdline.text\" longer than " + MAX_CMDLINE);
        }
        byte[] cmdDigest = digest(what, "cmdline.sha384", c.get("sha384"));
        if (!Arrays.equals(cmdDigest, Sha384.of(text.asText().getBytes(StandardCharsets.UTF_8)))) {
            throw new TrustException(what + ": \"cmdline.sha384\" does not match \"cmdline.text\"");
        }
        return new BootManifest(kernel, initramfs, text.asText(), cmdDigest);
    }

    private static FileRef fileRef(String what, String field, JsonNode n) throws TrustException {
        if (n == null || !n.isObject()) {
            throw new TrustException(what + ": \"" + field + "\" must be an object {path, sha384}");
        }
        onlyFields(what, field, n, Set.of("path", "sha384"));
        JsonNode p = n.get("path");
        if (p == null || !p.isTextual() || p.asText().isEmpty() || p.asText().indexOf('\0') >= 0) {
            throw new TrustException(what + ": \"" + field + ".path\" must be a non-empty string");
        }
        return new FileRef(p.asText(), digest(what, field + ".sha384", n.get("sha384")));
    }

    private static byte[] digest(String what, String field, JsonNode n) throws TrustException {
        if (n == null || !n.isTextual()) {
            throw new TrustException(what + ": \"" + field + "\" must be a hex string");
        }
        byte[] d = Hex.parse(what + ": \"" + field + "\"", n.asText());
        if (d.length != Sha384.LENGTH) {
            throw new TrustException(what + ": \"" + field + "\" must be a SHA-384 digest (96 hex digits)");
        }
        return d;
    }

    private static void onlyFields(String what, String where, JsonNode n, Set<String> allowed) throws TrustException {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) {
                throw new TrustException(what + ": unknown field \"" + f + "\" in " + where);
            }
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BootManifest m && m.kernel.equals(kernel) && m.initramfs.equals(initramfs)
                && m.cmdline.equals(cmdline) && Arrays.equals(m.cmdlineSha384, cmdlineSha384);
    }

    @Override
    public int hashCode() {
        return kernel.hashCode() ^ cmdline.hashCode();
    }
}
