package io.qingtian.trust.crypto;

import io.qingtian.trust.TrustException;

import java.util.HexFormat;

/** Lower-case hex, strict on input (even length, hex digits only, optional 0x prefix). */
public final class Hex {
    private Hex() {}

    public static String of(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    public static byte[] parse(String what, String text) throws TrustException {
        String s = text.strip();
        if (s.startsWith("0x") || s.startsWith("0X")) {
            s = s.substring(2);
        }
        if (s.length() % 2 != 0) {
            throw new TrustException(what + ": hex string has odd length " + s.length());
        }
        for (int i = 0; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                throw new TrustException(what + ": not a hex digit at position " + i);
            }
        }
        return HexFormat.of().parseHex(s);
    }
}
