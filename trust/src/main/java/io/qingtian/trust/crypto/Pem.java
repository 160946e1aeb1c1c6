package io.qingtian.trust.crypto;

import io.qingtian.trust.TrustException;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * RFC 7468 textual encoding: one block, strict label match. Only what openssl writes and reads
 * ("PRIVATE KEY", "PUBLIC KEY", "CERTIFICATE"), so every file the card writes is also usable
 * with openssl.
 */
public final class Pem {
    private static final int MAX_PEM = 1 << 20;

    private Pem() {}

    public static String encode(String label, byte[] der) {
        String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
        return "-----BEGIN " + label + "-----\n" + b64 + "\n-----END " + label + "-----\n";
    }

    /** Decodes the first block with {@code label}; {@code what} names the file in errors. */
    public static byte[] decode(String what, String label, byte[] fileBytes) throws TrustException {
        if (fileBytes.length > MAX_PEM) {
            throw new TrustException(what + ": too large for a PEM file (" + fileBytes.length + " bytes)");
        }
        String text = new String(fileBytes, StandardCharsets.US_ASCII);
        String begin = "-----BEGIN " + label + "-----";
        String end = "-----END " + label + "-----";
        int b = text.indexOf(begin);
        if (b < 0) {
            throw new TrustException(what + ": no '" + begin + "' block (expected a PEM " + label.toLowerCase() + ")");
        }
        int e = text.indexOf(end, b + begin.length());
        if (e < 0) {
            throw new TrustException(what + ": PEM block '" + label + "' is not terminated");
        }
        String body = text.substring(b + begin.length(), e).replaceAll("\\s+", "");
        try {
            byte[] der = Base64.getDecoder().decode(body);
            if (der.length == 0) {
                throw new TrustException(what + ": PEM block '" + label + "' is empty");
            }
            return der;
        } catch (IllegalArgumentException ex) {
            throw new TrustException(what + ": PEM block '" + label + "' is not valid base64");
        }
    }
}
