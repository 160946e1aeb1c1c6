package io.qingtian.trust.attest;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.cbor.CborItem;
import io.qingtian.trust.crypto.Sha384;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The payload of an attestation document, with the field set of AWS Nitro Enclaves (and
 * QingTian Enclave) documents, so verifiers written for those apply:
 * <pre>
 * AttestationDocument = {
 *   module_id:   tstr,                  ; "qt-card-&lt;card id&gt;" or "&lt;...&gt;/&lt;instance&gt;"
 *   digest:      "SHA384",
 *   timestamp:   uint,                  ; ms since the UNIX epoch
 *   pcrs:        { + uint =&gt; bstr(48) }, ; index 0..31
 *   certificate: bstr,                  ; DER, the attestation key's certificate
 *   cabundle:    [ + bstr ],            ; DER, cabundle[0] is the card root, then towards the leaf
 *   public_key:  bstr / null,           ; 0..1024 bytes
 *   user_data:   bstr / null,           ; 0..1024 bytes
 *   nonce:       bstr / null,           ; 0..1024 bytes
 * }
 * </pre>
 * Absent optional fields are encoded as null, as the Nitro Secure Module does; a missing key is
 * accepted as null on decode.
 */
public record AttestationDocument(String moduleId, long timestamp, String digest, SortedMap<Integer, byte[]> pcrs,
                                  byte[] certificate, List<byte[]> cabundle, Optional<byte[]> publicKey,
                                  Optional<byte[]> userData, Optional<byte[]> nonce) {
    public static final String DIGEST_SHA384 = "SHA384";
    public static final int MAX_OPTIONAL_FIELD = 1024;
    public static final int MAX_PCR_INDEX = 31;
    private static final Set<String> FIELDS = Set.of("module_id", "digest", "timestamp", "pcrs", "certificate",
            "cabundle", "public_key", "user_data", "nonce");
    private static final int MAX_CABUNDLE = 8;
    private static final int MAX_CERT = 16 * 1024;

    public AttestationDocument {
        pcrs = Collections.unmodifiableSortedMap(new TreeMap<>(pcrs));
        cabundle = List.copyOf(cabundle);
    }

    public CborItem.CborMap toCbor() {
        CborItem.CborMap.Builder p = CborItem.CborMap.builder();
        for (Map.Entry<Integer, byte[]> e : pcrs.entrySet()) {
            p.put(e.getKey(), CborItem.bytes(e.getValue()));
        }
        List<CborItem> bundle = new ArrayList<>();
        for (byte[] c : cabundle) {
            bundle.add(CborItem.bytes(c));
        }
        return CborItem.CborMap.builder()
                .put("module_id", CborItem.text(moduleId))
                .put("digest", CborItem.text(digest))
                .put("timestamp", CborItem.integer(timestamp))
                .put("pcrs", p.build())
                .put("certificate", CborItem.bytes(certificate))
                .put("cabundle", new CborItem.Array(bundle))
                .put("public_key", optional(publicKey))
                .put("user_data", optional(userData))
                .put("nonce", optional(nonce))
                .build();
    }

    private static CborItem optional(Optional<byte[]> b) {
        return b.<CborItem>map(CborItem::bytes).orElse(CborItem.Simple.NULL);
    }

    /** Validates the structure (types, sizes, required fields); says nothing about signatures. */
    public static AttestationDocument fromCbor(CborItem item) throws TrustException {
        if (!(item instanceof CborItem.CborMap m)) {
            throw bad("payload is not a CBOR map");
        }
        for (Map.Entry<CborItem, CborItem> e : m.entries()) {
            if (!(e.getKey() instanceof CborItem.Text t) || !FIELDS.contains(t.value())) {
                throw bad("unexpected field " + e.getKey());
            }
        }
        String moduleId = text(m, "module_id");
        if (moduleId.isEmpty() || moduleId.length() > 256) {
            throw bad("module_id must be 1..256 characters");
        }
        String digest = text(m, "digest");
        if (!digest.equals(DIGEST_SHA384)) {
            throw bad("digest \"" + digest + "\" is not SHA384");
        }
        if (!(m.get("timestamp") instanceof CborItem.Int ts) || ts.value() <= 0) {
            throw bad("timestamp must be a positive integer (ms)");
        }
        if (!(m.get("pcrs") instanceof CborItem.CborMap pm) || pm.size() == 0 || pm.size() > MAX_PCR_INDEX + 1) {
            throw bad("pcrs must be a non-empty map of at most 32 entries");
        }
        SortedMap<Integer, byte[]> pcrs = new TreeMap<>();
        for (Map.Entry<CborItem, CborItem> e : pm.entries()) {
            if (!(e.getKey() instanceof CborItem.Int idx) || idx.value() < 0 || idx.value() > MAX_PCR_INDEX) {
                throw bad("pcrs key must be an integer 0..31");
            }
            if (!(e.getValue() instanceof CborItem.Bytes v) || v.length() != Sha384.LENGTH) {
                throw bad("PCR" + idx.value() + " must be 48 bytes (SHA-384)");
            }
            pcrs.put((int) idx.value(), v.value());
        }
        byte[] cert = bytes(m, "certificate", 1, MAX_CERT);
        if (!(m.get("cabundle") instanceof CborItem.Array ca) || ca.items().isEmpty() || ca.items().size() > MAX_CABUNDLE) {
            throw bad("cabundle must be an array of 1.." + MAX_CABUNDLE + " certificates");
        }
        List<byte[]> bundle = new ArrayList<>();
        for (CborItem c : ca.items()) {
            if (!(c instanceof CborItem.Bytes b) || b.length() == 0 || b.length() > MAX_CERT) {
                throw bad("cabundle entries must be DER certificates (byte strings)");
            }
            bundle.add(b.value());
        }
        return new AttestationDocument(moduleId, ts.value(), digest, pcrs, cert, bundle,
                optionalBytes(m, "public_key"), optionalBytes(m, "user_data"), optionalBytes(m, "nonce"));
    }

    private static String text(CborItem.CborMap m, String key) throws TrustException {
        if (!(m.get(key) instanceof CborItem.Text t)) {
            throw bad(key + " must be a text string");
        }
        return t.value();
    }

    private static byte[] bytes(CborItem.CborMap m, String key, int min, int max) throws TrustException {
        if (!(m.get(key) instanceof CborItem.Bytes b) || b.length() < min || b.length() > max) {
            throw bad(key + " must be a byte string of " + min + ".." + max + " bytes");
        }
        return b.value();
    }

    private static Optional<byte[]> optionalBytes(CborItem.CborMap m, String key) throws TrustException {
        CborItem v = m.get(key);
        if (v == null || v == CborItem.Simple.NULL) {
            return Optional.empty();
        }
        return Optional.of(bytes(m, key, 0, MAX_OPTIONAL_FIELD));
    }

    private static TrustException bad(String what) {
        return new TrustException("attestation document: " + what);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AttestationDocument d && d.moduleId.equals(moduleId) && d.timestamp == timestamp
                && Arrays.equals(d.certificate, certificate);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(timestamp);
    }
}
