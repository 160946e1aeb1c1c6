package io.qingtian.card.api;

/** A request that ends with a 4xx: {@code status} and one line for the caller. */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public static ApiException badRequest(String m) {
        return new ApiException(400, m);
    }

    /** Also what another tenant's resource answers: existence must not leak (CONTROL.md). */
    public static ApiException notFound(String kind, String name) {
        return new ApiException(404, kind + " " + name + " not found");
    }
}
