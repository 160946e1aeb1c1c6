package io.qingtian.hypervisor.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Set;

/**
 * Firecracker's {@code --config-file}: one JSON document with the bodies of the pre-boot PUT
 * requests ({@code boot-source}, {@code machine-config}, {@code drives}, {@code
 * network-interfaces}), applied through the same {@link FirecrackerApi} paths so the checks
 * and messages are the API's. Any refusal is a {@link UserError} naming the section.
 */
public final class ConfigFile {
    private static final Set<String> SECTIONS = Set.of("boot-source", "machine-config", "drives", "network-interfaces");

    private ConfigFile() {}

    public static void apply(Path file, FirecrackerApi api) {
        JsonNode root;
        try {
            root = JsonFields.JSON.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new UserError("cannot read config file " + file + ": " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new UserError("config file " + file + " must hold a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!SECTIONS.contains(f)) {
                throw new UserError("config file " + file + ": unsupported section '" + f + "' (supported: " + SECTIONS + ")");
            }
        }
        if (!root.has("boot-source")) {
            throw new UserError("config file " + file + " has no boot-source");
        }
        if (root.has("machine-config")) {
            check(api.handle("PUT", "/machine-config", root.get("machine-config").toString()), file);
        }
        check(api.handle("PUT", "/boot-source", root.get("boot-source").toString()), file);
        for (String section : new String[] {"drives", "network-interfaces"}) {
            JsonNode list = root.get(section);
            if (list == null) {
                continue;
            }
            if (!list.isArray()) {
                throw new UserError("config file " + file + ": " + section + " must be an array");
            }
            String idField = section.equals("drives") ? "drive_id" : "iface_id";
            for (JsonNode d : list) {
                JsonNode id = d.get(idField);
                if (id == null || !id.isTextual()) {
                    throw new UserError("config file " + file + ": every entry of " + section + " needs a string " + idField);
                }
                check(api.handle("PUT", "/" + section + "/" + id.asText(), d.toString()), file);
            }
        }
    }

    private static void check(ApiResponse r, Path file) {
        if (r.status() >= 300) {
            String msg = r.json();
            try {
                msg = JsonFields.JSON.readTree(r.json()).get("fault_message").asText();
            } catch (IOException | RuntimeException ignored) {
                // keep the raw body
            }
            throw new UserError("config file " + file + ": " + msg);
        }
    }
}
