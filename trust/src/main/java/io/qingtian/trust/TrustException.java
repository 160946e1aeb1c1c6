package io.qingtian.trust;

/**
 * Something presented to the root of trust is not acceptable: a malformed or wrongly signed
 * manifest, a key file with loose permissions, a document that does not verify. The message is
 * one line meant for an operator (it names the file and the reason); it never carries secret
 * material. The CLI turns it into a {@code UserError}; the card refuses the operation.
 */
public class TrustException extends Exception {
    public TrustException(String message) {
        super(message);
    }

    public TrustException(String message, Throwable cause) {
        super(message, cause);
    }
}
