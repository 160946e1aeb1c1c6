package io.qingtian.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reading the tagged output of a lab run or a process back: a value after a marker, the text
 * between two markers. Each fails the test, with the whole output, when the marker is missing.
 */
public final class Outputs {
    private Outputs() {}

    /** Group 1 of the first match of {@code regex} in {@code text}; fails the test if none. */
    public static String find(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("output has /%s/:%n%s", regex, text).isTrue();
        return m.group(1);
    }

    /** The text between the first {@code from} and the next {@code to}; fails the test if either is missing. */
    public static String section(String out, String from, String to) {
        int a = out.indexOf(from);
        int b = out.indexOf(to, Math.max(a, 0));
        assertThat(a).as("%s in lab output:%n%s", from, out).isNotNegative();
        assertThat(b).as("%s in lab output:%n%s", to, out).isGreaterThan(a);
        return out.substring(a + from.length(), b);
    }
}
