package io.qingtian.card.tenant;

/**
 * A stored API token: only the SHA-256 of its secret is kept (a leaked tenants.json does not
 * give access). The bearer string is {@code qt_ID_SECRET}; the id selects the record, the secret
 * (32 random bytes, base64url) is compared in constant time.
 *
 * @param tenant null for an operator (admin) token
 */
public record ApiToken(String id, String tenant, String sha256, String createdAt) {}
