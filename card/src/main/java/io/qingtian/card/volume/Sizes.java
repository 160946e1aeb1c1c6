package io.qingtian.card.volume;

import io.qingtian.sys.UserError;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Sizes as users write them: 1048576, 512K, 64M, 10G, 1T (binary units; "iB"/"B" suffixes allowed). */
public final class Sizes {
    public static final long SECTOR = 512;
    /** Far beyond any real volume, small enough that offsets never overflow. */
    public static final long MAX = 1L << 50;
    private static final Pattern FORM = Pattern.compile("(\\d{1,19})\\s*([KMGTP]?)(?:I?B)?");

    private Sizes() {}

    public static long parse(String text) {
        Matcher m = FORM.matcher(text.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new UserError("bad size '" + text + "' (examples: 1048576, 512K, 64M, 10G)");
        }
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new UserError("size '" + text + "' is too large");
        }
        int shift = switch (m.group(2)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            case "P" -> 50;
            default -> 0;
        };
        if (n > (MAX >> shift)) {
            throw new UserError("size '" + text + "' is too large (max 1P)");
        }
        return check(n << shift);
    }

    /** A positive byte count in the same notation, without the sector rule (rates, bursts). */
    public static long parseAny(String text) {
        Matcher m = FORM.matcher(text.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new UserError("bad size '" + text + "' (examples: 1048576, 512K, 64M)");
        }
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new UserError("'" + text + "' is too large");
        }
        int shift = "KMGTP".indexOf(m.group(2).isEmpty() ? "x" : m.group(2)) * 10 + 10;
        shift = m.group(2).isEmpty() ? 0 : shift;
        if (n > (MAX >> shift)) {
            throw new UserError("'" + text + "' is too large");
        }
        return n << shift;
    }

    public static long check(long bytes) {
        if (bytes <= 0) {
            throw new UserError("size must be positive");
        }
        if (bytes % SECTOR != 0) {
            throw new UserError("size must be a multiple of 512");
        }
        if (bytes > MAX) {
            throw new UserError("size is too large (max 1P)");
        }
        return bytes;
    }

    public static String human(long bytes) {
        String[] units = {"B", "K", "M", "G", "T", "P"};
        int u = 0;
        long v = bytes;
        while (u < units.length - 1 && v >= 1024 && v % 1024 == 0) {
            v /= 1024;
            u++;
        }
        return v + units[u];
    }
}
