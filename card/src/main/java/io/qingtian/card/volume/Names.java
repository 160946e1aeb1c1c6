package io.qingtian.card.volume;

import io.qingtian.sys.UserError;
import java.util.regex.Pattern;

/** Volume names become file names: only a safe alphabet, never a path. */
public final class Names {
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private Names() {}

    public static String check(String name) {
        if (name == null || !VALID.matcher(name).matches() || name.endsWith(".tmp")) {
            throw new UserError("bad volume name '" + name + "': use 1-64 of A-Z a-z 0-9 . _ - starting with a letter or digit");
        }
        return name;
    }
}
