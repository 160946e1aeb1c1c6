package io.qingtian.card.cli.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options every {@code qt cloud} command shares: where the card is, who is asking, how to print. */
public final class Connection {
    @Option(names = "--endpoint", paramLabel = "URL", defaultValue = "${env:QT_ENDPOINT:-http://127.0.0.1:7381}",
            description = "Control API (env QT_ENDPOINT, default ${DEFAULT-VALUE}).")
    String endpoint;

    @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:QT_TOKEN}",
            description = "API token (env QT_TOKEN).")
    String token;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table",
            description = "table or json (default ${DEFAULT-VALUE}).")
    String output;

    ApiClient client() {
        if (!output.equals("table") && !output.equals("json")) {
            throw new io.qingtian.sys.UserError("--output must be table or json, not '" + output + "'");
        }
        return new ApiClient(endpoint, token);
    }

    /** Prints a JSON value as JSON, or as a table of the given columns (an object = one row). */
    void print(JsonNode n, String... columns) {
        if (output.equals("json")) {
            try {
                System.out.println(ApiClient.JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(n));
            } catch (Exception e) {
                System.out.println(n);
            }
            return;
        }
        List<JsonNode> rows = new ArrayList<>();
        if (n.isArray()) {
            n.forEach(rows::add);
        } else {
            rows.add(n);
        }
        if (columns.length == 0) {
            List<String> cols = new ArrayList<>();
            if (!rows.isEmpty()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = rows.get(0).properties().iterator(); it.hasNext(); ) {
                    cols.add(it.next().getKey());
                }
            }
            columns = cols.toArray(String[]::new);
        }
        int[] w = new int[columns.length];
        List<String[]> cells = new ArrayList<>();
        for (JsonNode r : rows) {
            String[] c = new String[columns.length];
            for (int i = 0; i < columns.length; i++) {
                JsonNode v = r.at("/" + columns[i].replace('.', '/'));
                c[i] = v.isMissingNode() || v.isNull() ? "-" : v.isValueNode() ? v.asText() : v.toString();
            }
            cells.add(c);
        }
        for (int i = 0; i < columns.length; i++) {
            w[i] = columns[i].length();
            for (String[] c : cells) {
                w[i] = Math.max(w[i], c[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < columns.length; i++) {
            sb.append(String.format("%-" + w[i] + "s  ", columns[i].toUpperCase(java.util.Locale.ROOT)));
        }
        System.out.println(sb.toString().stripTrailing());
        for (String[] c : cells) {
            sb.setLength(0);
            for (int i = 0; i < columns.length; i++) {
                sb.append(String.format("%-" + w[i] + "s  ", c[i]));
            }
            System.out.println(sb.toString().stripTrailing());
        }
    }
}
