package io.qingtian.trust.cbor;

import io.qingtian.trust.TrustException;

/** Input that is not CBOR we accept: malformed, non-preferred, too deep, too long, or of a type we refuse. */
public final class CborException extends TrustException {
    public CborException(String message) {
        super(message);
    }
}
