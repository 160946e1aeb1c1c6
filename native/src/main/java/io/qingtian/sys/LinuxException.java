package io.qingtian.sys;

/**
 * A failed system call: names the call (for ioctls, the request name) and the errno.
 * Unchecked because most callers can only report it; callers that can act on a
 * particular errno (EAGAIN, EINTR) inspect {@link #errno()}.
 */
public final class LinuxException extends RuntimeException {
    private final String call;
    private final int errno;

    public LinuxException(String call, int errno) {
        super(call + " failed: " + Errno.name(errno) + " (" + Errno.describe(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }
}
