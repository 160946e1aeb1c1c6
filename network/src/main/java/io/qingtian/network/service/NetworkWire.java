package io.qingtian.network.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qingtian.network.NetworkException;
import java.io.IOException;
import java.util.function.UnaryOperator;

/**
 * The JSON form of network requests and replies on the card's control socket.
 *
 * <p>Request: {@code {"op":"nic.create","name":"web1","subnet":"a",...}} (see the names in
 * {@link NetworkRequest}). Reply: {@code {"ok":{"type":"nic",...}}} or {@code {"error":"one line"}}.
 * The card's control server passes the request object to {@link #serve}; the CLI side wraps
 * its transport (send one JSON text, receive one) with {@link #client}.
 */
public final class NetworkWire {
    private NetworkWire() {}

    public static String encode(NetworkRequest r) {
        try {
            return NetworkService.JSON.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(r);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static NetworkRequest decode(String json) {
        try {
            return NetworkService.JSON.readValue(json, NetworkRequest.class);
        } catch (IOException e) {
            throw new NetworkException("bad network request: " + firstLine(e.getMessage()));
        }
    }

    /** Runs one JSON request against the service; never throws for a refused request. */
    public static String serve(NetworkService service, String requestJson) {
        ObjectNode out = NetworkService.JSON.createObjectNode();
        try {
            NetworkReply reply = service.handle(decode(requestJson));
            out.set("ok", NetworkService.JSON.valueToTree(reply));
        } catch (NetworkException | UnsupportedOperationException e) {
            out.put("error", firstLine(e.getMessage()));
        } catch (RuntimeException e) {
            out.put("error", "internal error: " + firstLine(String.valueOf(e)));
        }
        try {
            return NetworkService.JSON.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A client over any request/response transport carrying one JSON text each way. */
    public static NetworkClient client(UnaryOperator<String> transport) {
        return request -> {
            String text = transport.apply(encode(request));
            try {
                JsonNode n = NetworkService.JSON.readTree(text);
                if (n.has("error")) {
                    throw new NetworkException(n.get("error").asText());
                }
                return NetworkService.JSON.treeToValue(n.get("ok"), NetworkReply.class);
            } catch (IOException e) {
                throw new NetworkException("bad reply from the card: " + firstLine(e.getMessage()));
            }
        };
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
