package io.qingtian.card.api;

import java.nio.file.Path;
import java.util.regex.Pattern;

/** Range and shape checks at the API edge; each failure is a 400 naming the field. */
final class Validate {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,39}");
    private static final Pattern IMAGE = Pattern.compile("[A-Za-z0-9._/-]{1,200}");

    private Validate() {}

    static String name(String field, String v) {
        if (v == null) {
            throw ApiException.badRequest(field + " is required");
        }
        if (!NAME.matcher(v).matches()) {
            throw ApiException.badRequest(field + " must match [A-Za-z0-9][A-Za-z0-9_-]{0,39}, not '" + clip(v) + "'");
        }
        return v;
    }

    static <T> T required(String field, T v) {
        if (v == null) {
            throw ApiException.badRequest(field + " is required");
        }
        return v;
    }

    static long range(String field, long v, long min, long max) {
        if (v < min || v > max) {
            throw ApiException.badRequest(field + " must be between " + min + " and " + max + ", not " + v);
        }
        return v;
    }

    /** A file under the card's image directory (no absolute paths, no "..": tenants cannot name host files). */
    static Path image(String field, Path images, String v) {
        if (v == null) {
            return null;
        }
        if (!IMAGE.matcher(v).matches() || v.startsWith("/") || Path.of(v).normalize().startsWith("..")
                || v.contains("..")) {
            throw ApiException.badRequest(field + " must be a relative path inside the card's image directory, not '"
                    + clip(v) + "'");
        }
        Path p = images.resolve(v).normalize();
        if (!p.startsWith(images) || !java.nio.file.Files.isRegularFile(p)) {
            throw ApiException.badRequest(field + ": no image " + v);
        }
        return p;
    }

    static String clip(String v) {
        return v.length() > 60 ? v.substring(0, 60) + "..." : v;
    }
}
