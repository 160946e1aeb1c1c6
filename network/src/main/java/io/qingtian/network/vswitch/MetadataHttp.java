package io.qingtian.network.vswitch;

/**
 * The HTTP side of the metadata endpoint: EC2-style paths under /latest/meta-data/ and a
 * JSON identity document. Only GET; anything else is 405, unknown paths 404.
 */
final class MetadataHttp {
    static final String DOCUMENT = "/latest/dynamic/instance-identity/document";

    private MetadataHttp() {}

    static String respond(String request, InstanceIdentity id) {
        int eol = request.indexOf("\r\n");
        String line = eol < 0 ? request : request.substring(0, eol);
        String[] parts = line.split(" ");
        if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
            return response(400, "Bad Request", "text/plain", "bad request\n");
        }
        if (!parts[0].equals("GET")) {
            return response(405, "Method Not Allowed", "text/plain", "only GET\n");
        }
        String path = parts[1];
        String body = switch (path) {
            case "/latest/meta-data", "/latest/meta-data/" ->
                    "instance-id\nlocal-ipv4\nmac\nvpc-id\nsubnet-id\ntenant-id\nnic\n";
            case "/latest/meta-data/instance-id" -> id.instanceId();
            case "/latest/meta-data/local-ipv4" -> id.ip();
            case "/latest/meta-data/mac" -> id.mac();
            case "/latest/meta-data/vpc-id" -> id.vpc();
            case "/latest/meta-data/subnet-id" -> id.subnet();
            case "/latest/meta-data/tenant-id" -> id.tenant();
            case "/latest/meta-data/nic" -> id.nic();
            case DOCUMENT -> null;
            default -> "";
        };
        if (path.equals(DOCUMENT)) {
            return response(200, "OK", "application/json", id.toJson());
        }
        if (body.isEmpty()) {
            return response(404, "Not Found", "text/plain", "not found\n");
        }
        return response(200, "OK", "text/plain", body);
    }

    private static String response(int code, String reason, String type, String body) {
        int len = body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        return "HTTP/1.0 " + code + " " + reason + "\r\nContent-Type: " + type + "\r\nContent-Length: " + len
                + "\r\nConnection: close\r\n\r\n" + body;
    }
}
