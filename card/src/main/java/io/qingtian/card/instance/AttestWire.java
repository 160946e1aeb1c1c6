package io.qingtian.card.instance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.card.fs.Json;
import io.qingtian.trust.CardTrust;
import io.qingtian.trust.TrustException;
import java.io.IOException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * {@code qt attest request} on the card's control socket ({@code STATE/control.sock}, 0600: the
 * operator's channel, like the state directory itself), so documents are signed by the running
 * card's per-boot attestation key and carry the PCRs of the instance's last launch.
 *
 * <pre>
 * → {"op":"attest","nonce":"HEX"[,"instance":"NAME or TENANT.NAME"][,"userData":"B64"][,"publicKey":"B64"]}
 * ← {"document":"B64 COSE_Sign1"}   or   {"error":"one line"}
 * </pre>
 *
 * Without {@code instance} the document is about the card itself (PCR0 = its build). A name
 * that several tenants use must be given as {@code TENANT.NAME} (the instance id).
 */
public final class AttestWire {
    public static final String OP = "attest";
    /** Nonce, user data and public key: at most 1024 bytes each (the Nitro limits). */
    static final int MAX_FIELD = 1024;

    private AttestWire() {}

    public static String serve(InstanceManager instances, CardTrust trust, String line) {
        ObjectNode out = Json.MAPPER.createObjectNode();
        try {
            JsonNode req = Json.MAPPER.readTree(line);
            byte[] nonce = field(req, "nonce", true, true);
            byte[] userData = field(req, "userData", false, false);
            byte[] publicKey = field(req, "publicKey", false, false);
            if (trust == null) {
                throw new IllegalArgumentException("this card has no trust service");
            }
            JsonNode inst = req.get("instance");
            byte[] doc;
            if (inst == null || inst.isNull()) {
                doc = trust.cardAttestor().document(nonce, userData, publicKey);
            } else {
                if (!inst.isTextual()) {
                    throw new IllegalArgumentException("\"instance\" must be a string");
                }
                doc = instances.attest(resolve(instances, inst.asText()), nonce, userData, publicKey);
            }
            out.put("document", Base64.getEncoder().encodeToString(doc));
        } catch (IOException e) {
            out.put("error", "malformed request: not JSON");
        } catch (TrustException | IllegalArgumentException | IllegalStateException e) {
            out.put("error", firstLine(e.getMessage()));
        }
        try {
            return Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** An instance id, or a name that exactly one tenant uses. */
    static String resolve(InstanceManager instances, String nameOrId) {
        List<InstanceView> all = instances.list(null);
        for (InstanceView v : all) {
            if (v.id().equals(nameOrId)) {
                return v.id();
            }
        }
        List<InstanceView> named = all.stream().filter(v -> v.name().equals(nameOrId)).toList();
        if (named.isEmpty()) {
            throw new IllegalArgumentException("no instance " + nameOrId);
        }
        if (named.size() > 1) {
            throw new IllegalArgumentException("instance name " + nameOrId + " is used by several tenants: give TENANT.NAME ("
                    + String.join(", ", named.stream().map(InstanceView::id).toList()) + ")");
        }
        return named.get(0).id();
    }

    private static byte[] field(JsonNode req, String name, boolean hex, boolean required) {
        JsonNode n = req.get(name);
        if (n == null || n.isNull()) {
            if (required) {
                throw new IllegalArgumentException("\"" + name + "\" is required");
            }
            return null;
        }
        if (!n.isTextual()) {
            throw new IllegalArgumentException("\"" + name + "\" must be a string");
        }
        byte[] b;
        try {
            b = hex ? HexFormat.of().parseHex(n.asText()) : Base64.getDecoder().decode(n.asText());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("\"" + name + "\" is not " + (hex ? "hex" : "base64"));
        }
        if (b.length == 0 && required || b.length > MAX_FIELD) {
            throw new IllegalArgumentException("\"" + name + "\" must be 1.." + MAX_FIELD + " bytes");
        }
        return b;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "failed";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
