package io.qingtian.card.tenant;

import com.fasterxml.jackson.core.type.TypeReference;
import io.qingtian.card.fs.Durable;
import io.qingtian.card.fs.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Tenants and API tokens, persisted in {@code STATE/control/tenants.json} (0600, atomic
 * replace). On first start the card creates one operator token and writes it, once, to
 * {@code STATE/control/admin.token} (0600): whoever can read the card's state is the operator.
 */
public final class TenantStore {
    private static final SecureRandom RANDOM = new SecureRandom();
    public static final String PREFIX = "qt_";

    record Saved(List<Tenant> tenants, List<ApiToken> tokens) {}

    private final Path file;
    private final Map<String, Tenant> tenants = new LinkedHashMap<>();
    private final Map<String, ApiToken> tokens = new LinkedHashMap<>();

    public TenantStore(Path controlDir) throws IOException {
        Files.createDirectories(controlDir);
        Files.setPosixFilePermissions(controlDir, PosixFilePermissions.fromString("rwx------"));
        this.file = controlDir.resolve("tenants.json");
        if (Files.exists(file)) {
            Saved s = Json.MAPPER.readValue(file.toFile(), new TypeReference<Saved>() {});
            s.tenants().forEach(t -> tenants.put(t.id(), t));
            s.tokens().forEach(t -> tokens.put(t.id(), t));
        }
        if (tokens.values().stream().noneMatch(t -> t.tenant() == null)) {
            String secret = issue(null);
            Path admin = controlDir.resolve("admin.token");
            Durable.writeAtomically(admin, (secret + "\n").getBytes(StandardCharsets.US_ASCII));
            Files.setPosixFilePermissions(admin, PosixFilePermissions.fromString("rw-------"));
        }
    }

    public synchronized Tenant createTenant(String name) throws IOException {
        if (tenants.values().stream().anyMatch(t -> t.name().equals(name))) {
            throw new IllegalArgumentException("tenant " + name + " already exists");
        }
        Tenant t = new Tenant("t" + hex(4), name, Instant.now().toString());
        tenants.put(t.id(), t);
        save();
        return t;
    }

    public synchronized List<Tenant> tenants() {
        return List.copyOf(tenants.values());
    }

    public synchronized Optional<Tenant> tenant(String id) {
        return Optional.ofNullable(tenants.get(id));
    }

    /** Creates a token for {@code tenantId} (null = operator); returns the bearer string, shown once. */
    public synchronized String issue(String tenantId) throws IOException {
        if (tenantId != null && !tenants.containsKey(tenantId)) {
            throw new IllegalArgumentException("no tenant " + tenantId);
        }
        String id = hex(6);
        byte[] raw = new byte[32]; // 256 bits
        RANDOM.nextBytes(raw);
        String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        tokens.put(id, new ApiToken(id, tenantId, sha256(secret), Instant.now().toString()));
        save();
        return PREFIX + id + "_" + secret;
    }

    public synchronized List<ApiToken> tokensOf(String tenantId) {
        return tokens.values().stream().filter(t -> java.util.Objects.equals(t.tenant(), tenantId)).toList();
    }

    public synchronized boolean revoke(String tokenId, String tenantId) throws IOException {
        ApiToken t = tokens.get(tokenId);
        if (t == null || !java.util.Objects.equals(t.tenant(), tenantId)) {
            return false;
        }
        tokens.remove(tokenId);
        save();
        return true;
    }

    /** The principal of a bearer string, or empty for anything unknown or malformed. */
    public synchronized Optional<Principal> authenticate(String bearer) {
        if (bearer == null || !bearer.startsWith(PREFIX) || bearer.length() > 200) {
            return Optional.empty();
        }
        String rest = bearer.substring(PREFIX.length());
        int us = rest.indexOf('_');
        if (us <= 0) {
            return Optional.empty();
        }
        ApiToken t = tokens.get(rest.substring(0, us));
        if (t == null) {
            return Optional.empty();
        }
        byte[] want = HexFormat.of().parseHex(t.sha256());
        byte[] got = HexFormat.of().parseHex(sha256(rest.substring(us + 1)));
        if (!MessageDigest.isEqual(want, got)) {
            return Optional.empty();
        }
        return Optional.of(new Principal(t.id(), t.tenant()));
    }

    private void save() throws IOException {
        Durable.writeAtomically(file, Json.MAPPER.writeValueAsBytes(
                new Saved(new ArrayList<>(tenants.values()), new ArrayList<>(tokens.values()))));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }

    private static String hex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
