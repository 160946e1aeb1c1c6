package io.qingtian.card.nbd;

import io.qingtian.sys.UserError;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Where a remote volume lives: an NBD server and the export name on it ({@code HOST:PORT/EXPORT}). */
public record NbdTarget(String host, int port, String export) {
    private static final Pattern FORM = Pattern.compile("(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9._-]+):(\\d{1,5})/(.+)");

    public NbdTarget {
        if (host == null || host.isEmpty() || port < 1 || port > 65535 || export == null || export.isEmpty()
                || export.length() > 4096) {
            throw new UserError("bad NBD target " + host + ":" + port + "/" + export + " (expected HOST:PORT/EXPORT)");
        }
    }

    public static NbdTarget parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new UserError("bad NBD target '" + text + "' (expected HOST:PORT/EXPORT)");
        }
        String host = m.group(1);
        if (host.startsWith("[")) {
            host = host.substring(1, host.length() - 1);
        }
        return new NbdTarget(host, Integer.parseInt(m.group(2)), m.group(3));
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port + "/" + export;
    }
}
