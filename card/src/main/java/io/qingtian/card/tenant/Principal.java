package io.qingtian.card.tenant;

/** Who made a request: the token's id, and its tenant (null for the operator's admin token). */
public record Principal(String tokenId, String tenantId) {
    public boolean admin() {
        return tenantId == null;
    }
}
