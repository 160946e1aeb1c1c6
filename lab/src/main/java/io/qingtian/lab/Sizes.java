package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.util.Locale;

/** Memory sizes as users write them: {@code 2048} (MiB), {@code 512M}, {@code 2G}, {@code 1536MiB}. */
public final class Sizes {
    private Sizes() {}

    /**
     * Parses a size into MiB. A bare number means MiB; suffixes K/M/G/T (optionally followed by
     * "iB" or "B", any case) are binary units. Sizes that are not a whole number of MiB, zero or
     * negative sizes, and anything else are a {@link UserError} naming the input.
     */
    public static int parseMiB(String text) {
        String s = text == null ? "" : text.trim().toUpperCase(Locale.ROOT);
        int end = 0;
        while (end < s.length() && Character.isDigit(s.charAt(end))) {
            end++;
        }
        if (end == 0) {
            throw bad(text);
        }
        String unit = s.substring(end);
        if (unit.endsWith("IB")) {
            unit = unit.substring(0, unit.length() - 2);
        } else if (unit.endsWith("B") && unit.length() == 2) {
            unit = unit.substring(0, 1);
        }
        long kib;
        try {
            long n = Long.parseLong(s.substring(0, end));
            kib = switch (unit) {
                case "K" -> n;
                case "", "M" -> Math.multiplyExact(n, 1024L);
                case "G" -> Math.multiplyExact(n, 1024L * 1024);
                case "T" -> Math.multiplyExact(n, 1024L * 1024 * 1024);
                default -> throw bad(text);
            };
        } catch (NumberFormatException | ArithmeticException e) {
            throw bad(text);
        }
        if (kib <= 0 || kib % 1024 != 0 || kib / 1024 > Integer.MAX_VALUE) {
            throw new UserError("memory size '" + text + "' must be a positive whole number of MiB (e.g. 512M, 2G)");
        }
        return (int) (kib / 1024);
    }

    private static UserError bad(String text) {
        return new UserError("cannot parse memory size '" + text + "': use e.g. 2048, 512M or 2G");
    }
}
