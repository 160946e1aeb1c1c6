package io.qingtian.hypervisor.api;

/**
 * A request the API refuses: bad input or the wrong state. Always a 4xx with the message as
 * Firecracker's {@code {"fault_message": "..."}}; the VM is left exactly as it was.
 */
public final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
        super(message);
        this.status = status;
    }

    /** 400 Bad Request, what Firecracker answers for both bad input and a wrong state. */
    public static ApiException badRequest(String message) {
        return new ApiException(400, message);
    }

    public int status() {
        return status;
    }
}
