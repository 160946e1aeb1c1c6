package io.qingtian.trust.measure;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.Sha384;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The ordered list of what was extended into which PCR. Replaying it from zeroed registers must
 * give the bank's values; a verifier that has the log can then tell which event a PCR came from.
 * JSON form: {@code {"format":"qingtian-event-log/1","events":[{"pcr":1,"type":"KERNEL","digest":"..","description":".."}]}}.
 */
public final class EventLog {
    public static final String FORMAT = "qingtian-event-log/1";
    private static final int MAX_EVENTS = 1024;
    private static final ObjectMapper JSON = JsonMapper.builder().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8).build());
    }

    private final List<MeasurementEvent> events = new ArrayList<>();

    public EventLog() {}

    public EventLog(List<MeasurementEvent> events) {
        this.events.addAll(events);
    }

    public void append(MeasurementEvent e) {
        events.add(e);
    }

    public List<MeasurementEvent> events() {
        return List.copyOf(events);
    }

    /** Extends a fresh bank with every event, in order. */
    public PcrBank replay() {
        PcrBank bank = new PcrBank();
        for (MeasurementEvent e : events) {
            bank.extend(e.pcr(), e.digest());
        }
        return bank;
    }

    public byte[] toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", FORMAT);
        ArrayNode arr = root.putArray("events");
        for (MeasurementEvent e : events) {
            ObjectNode n = arr.addObject();
            n.put("pcr", e.pcr());
            n.put("type", e.type().name());
            n.put("digest", Hex.of(e.digest()));
            n.put("description", e.description());
        }
        try {
            return (JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static EventLog parse(String what, byte[] json) throws TrustException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new TrustException(what + ": event log is not valid JSON");
        }
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText(null))) {
            throw new TrustException(what + ": not a " + FORMAT + " document");
        }
        JsonNode arr = root.get("events");
        if (arr == null || !arr.isArray() || arr.size() > MAX_EVENTS) {
            throw new TrustException(what + ": \"events\" must be an array of at most " + MAX_EVENTS);
        }
        EventLog log = new EventLog();
        int i = 0;
        for (JsonNode n : arr) {
            String at = what + ": event " + i++;
            JsonNode pcr = n.get("pcr");
            if (pcr == null || !pcr.isInt() || pcr.asInt() < 0 || pcr.asInt() >= Pcr.COUNT) {
                throw new TrustException(at + ": \"pcr\" must be an integer 0.." + (Pcr.COUNT - 1));
            }
            MeasurementEvent.Type type;
            try {
                type = MeasurementEvent.Type.valueOf(n.path("type").asText(""));
            } catch (IllegalArgumentException e) {
                throw new TrustException(at + ": unknown event type \"" + n.path("type").asText("") + "\"");
            }
            byte[] digest = Hex.parse(at + ": \"digest\"", n.path("digest").asText(""));
            if (digest.length != Sha384.LENGTH) {
                throw new TrustException(at + ": \"digest\" must be 48 bytes");
            }
            log.append(new MeasurementEvent(pcr.asInt(), type, digest, n.path("description").asText("")));
        }
        return log;
    }
}
