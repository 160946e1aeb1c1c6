package io.qingtian.sys;

/**
 * An error caused by the user's input or environment (a missing kernel, no /dev/kvm, a
 * malformed size). The CLI prints its message as one line, without a stack trace, and
 * exits with {@link #exitCode()}.
 */
public class UserError extends RuntimeException {
    private final int exitCode;

    public UserError(String message) {
        this(message, 2);
    }

    public UserError(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
        this.exitCode = 2;
    }

    public int exitCode() {
        return exitCode;
    }
}
