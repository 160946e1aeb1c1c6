package io.qingtian.card.tenant;

/** A tenant of the card: every API resource belongs to exactly one. {@code id} is the card's, {@code name} the operator's. */
public record Tenant(String id, String name, String createdAt) {}
